"""Hostile pushes change nothing and reach nothing; a slow network cannot stall the queue."""

import io
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.app import create_app
from ganstudio.config import Settings
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_sample, make_token, make_user
from tests.waiting import job_done, wait_for
from tests.web.test_versions import stored_versions


def push_bytes(client: TestClient, headers: dict, slug: str, data: bytes, label: str):
    return client.post(
        f"/api/v1/filters/{slug}/versions",
        files={"checkpoint": (f"{label}.pt", io.BytesIO(data))},
        data={"label": label},
        headers=headers,
    )


def make_filter_api(client: TestClient, headers: dict, input_size: int = 64) -> str:
    response = client.post(
        "/api/v1/filters", json={"name": "Toon", "input_size": input_size}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["slug"]


def test_torchscript_that_reads_the_secret_or_writes_files_is_refused_and_reaches_nothing(
    client: TestClient, app: FastAPI, settings: Settings, tokens: dict, tmp_path: Path
) -> None:
    dev = bearer(tokens[Role.DEVELOPER])
    slug = make_filter_api(client, dev)
    secret = settings.signing_key
    key_file = str(settings.resolved_data_dir / "secret_key")
    server_module = tmp_path / "json.py"  # what the old push check would have imported
    hostile = {
        "reads-secret": ck.ReadsFile(key_file, size=32),
        "reads-at-load": ck.ReadsAtLoad(key_file),
        "saves": ck.WritesFile(str(server_module)),
        "maps-to-write": ck.CreatesFile(str(server_module)),
    }
    for label, network in hostile.items():
        response = push_bytes(client, dev, slug, ck.scripted_bytes(network), label)
        assert response.status_code == 422, (label, response.text)
        assert "pure tensor operations" in response.json()["detail"]
        assert secret not in response.text
    assert not server_module.exists()
    assert stored_versions(app) == 0


def test_without_a_sandbox_torchscript_is_refused_and_safetensors_still_work(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(tmp_path / "data", sandbox="off"))
    make_user(app, role=Role.DEVELOPER, name="dev")
    dev = bearer(make_token(app, name="dev"))
    with TestClient(app) as client:
        slug = make_filter_api(client, dev)
        refused = push_bytes(client, dev, slug, ck.scripted_bytes(ck.Raises()), "ts")
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "Push safetensors, or ask an admin to enable the sandbox" in detail
        safe = ck.safetensors_file(tmp_path / "v1.safetensors").read_bytes()
        assert push_bytes(client, dev, slug, safe, "v1").status_code == 201
        health = client.get("/healthz").json()
        assert health["sandbox"]["active"] is False
        assert "TorchScript pushes are refused" in health["sandbox"]["summary"]


LIMIT_S = 20


def test_a_network_slow_only_on_bright_photos_is_killed_and_the_next_web_test_runs(
    tmp_path: Path, sandboxed: None
) -> None:
    # The limit is generous so an ordinary render never meets it on a loaded machine; the slow
    # network's render is endless, so it meets any limit.
    app = create_app(
        make_settings(tmp_path / "data", worker="thread", render_time_limit_seconds=LIMIT_S)
    )
    names = {"dev": Role.DEVELOPER, "ann": Role.VIEWER, "bob": Role.VIEWER}
    for name, role in names.items():
        make_user(app, role=role, name=name)
    dev, ann, bob = (bearer(make_token(app, name=name)) for name in names)
    bright = make_sample(app, imagegen.image_bytes(size=(64, 48), color=(255, 255, 255)), "w.png")
    with TestClient(app) as client:
        slug = make_filter_api(client, dev)
        # The push check's probe is dark on average, so the push is accepted and measured.
        slow = push_bytes(client, dev, slug, ck.scripted_bytes(ck.SlowOnBright()), "slow")
        assert slow.status_code == 201, slow.text
        safe = ck.safetensors_file(tmp_path / "v1.safetensors").read_bytes()
        assert push_bytes(client, dev, slug, safe, "v1").status_code == 201

        comparison = client.post(
            "/api/v1/comparisons",
            json={"filter": slug, "versions": ["slow", "v1"], "samples": [bright]},
            headers=ann,
        ).json()
        job_url = f"/api/v1/jobs/{comparison['job']['id']}"
        comparison_api = f"/api/v1/comparisons/{comparison['id']}"
        wait_for(
            lambda: client.get(job_url, headers=ann).json()["running"],
            "the slow render",
            seconds=180,
            every=0.2,
        )

        dark = imagegen.image_bytes(size=(64, 48), color=(10, 10, 10))
        webtest = client.post(
            "/api/v1/webtest",
            files={"image": ("dark.png", dark, "image/png")},
            data={"versions": ["slow", "v1"], "filter": slug},
            headers=bob,
        ).json()
        done = job_done(client, webtest["url"], bob, seconds=180)
        assert [r["state"] for r in done["renders"]] == ["done", "done"]

        cells = wait_for(
            lambda: (
                [
                    c
                    for c in client.get(comparison_api, headers=ann).json()["cells"]
                    if c["state"] in ("done", "failed")
                ]
                if client.get(job_url, headers=ann).json()["status"] != "running"
                else None
            ),
            "ann's comparison to finish",
            seconds=180,
            every=0.2,
        )
    by_version = {c["version_id"]: c for c in cells}
    slow_cell = by_version[slow.json()["id"]]
    assert slow_cell["state"] == "failed"
    assert f"longer than the {LIMIT_S} s limit, so it was stopped" in slow_cell["error"]
    assert app.state.worker.renders_run >= 4  # the worker outlived the kill and went on
