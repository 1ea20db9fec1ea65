"""Pushing versions through the API: each format checked and measured; bad ones refused."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.app import create_app
from ganstudio.db.tables import Version
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.conftest import make_settings
from tests.factories import bearer, make_token, make_user


@pytest.fixture
def dev(tokens: dict[Role, str]) -> dict[str, str]:
    return bearer(tokens[Role.DEVELOPER])


@pytest.fixture
def toon(client: TestClient, dev: dict[str, str]) -> str:
    response = client.post(
        "/api/v1/filters",
        json={"name": "Toon", "pipeline": "full", "input_size": 256},
        headers=dev,
    )
    assert response.status_code == 201, response.text
    return response.json()["slug"]


def push(client: TestClient, headers: dict, slug: str, path: Path, **fields: str):
    with path.open("rb") as handle:
        return client.post(
            f"/api/v1/filters/{slug}/versions",
            files={"checkpoint": (path.name, handle)},
            data=fields,
            headers=headers,
        )


def stored_versions(app: FastAPI) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(Version)) or 0


def test_push_each_format_with_lineage_and_stats(
    client: TestClient, app: FastAPI, dev: dict, toon: str, tmp_path: Path
) -> None:
    v1 = push(
        client,
        dev,
        toon,
        ck.safetensors_file(tmp_path / "v1.safetensors"),
        label="v1",
        notes="**first** try",
    )
    assert v1.status_code == 201, v1.text
    body = v1.json()
    assert body["architecture"] == "se-unet" and body["checkpoint"]["format"] == "safetensors"
    assert body["stats"]["param_count"] == sum(p.numel() for p in ck.tiny_net().parameters())
    assert body["stats"]["latency_ms_512"] > 0 and body["stats"]["gflops_512"] > 0
    assert body["branch"] == "main" and body["status"] == "candidate"

    v2 = push(
        client,
        dev,
        toon,
        ck.state_dict_file(tmp_path / "v2.pt", seed=2),
        label="v2",
        parent="v1",
        architecture="se-unet",
        config='{"base_width": 4, "depth": 2}',
    )
    assert v2.status_code == 201, v2.text
    assert v2.json()["parent"]["label"] == "v1" and v2.json()["branch"] == "main"

    ts = push(
        client,
        dev,
        toon,
        ck.torchscript_file(tmp_path / "ts.pt"),
        label="v2-ts",
        parent="v1",
        branch="torchscript",
    )
    assert ts.status_code == 201, ts.text
    assert ts.json()["checkpoint"]["format"] == "torchscript"
    assert ts.json()["input_channels"] == 3

    four = push(
        client,
        dev,
        toon,
        ck.safetensors_file(tmp_path / "eyes.safetensors", in_channels=4),
        label="v3-eyemask",
    )
    assert four.json()["input_channels"] == 4

    listing = client.get(f"/api/v1/filters/{toon}/versions?per_page=2", headers=dev).json()
    assert listing["total"] == 4
    assert [v["label"] for v in listing["items"]] == ["v3-eyemask", "v2-ts"]  # newest first
    only_branch = client.get(f"/api/v1/filters/{toon}/versions?branch=torchscript", headers=dev)
    assert [v["label"] for v in only_branch.json()["items"]] == ["v2-ts"]

    download = client.get(body["checkpoint"]["url"], headers=dev)
    assert download.content == (tmp_path / "v1.safetensors").read_bytes()
    assert 'filename="v1.safetensors"' in download.headers["content-disposition"]


def test_status_changes_keep_one_production_and_a_history(
    client: TestClient, dev: dict, toon: str, tmp_path: Path
) -> None:
    ids = [
        push(
            client, dev, toon, ck.safetensors_file(tmp_path / f"{n}.st", seed=n), label=f"v{n}"
        ).json()["id"]
        for n in (1, 2)
    ]
    for version_id in ids:
        response = client.patch(
            f"/api/v1/versions/{version_id}",
            json={"status": "production", "reason": "best so far"},
            headers=dev,
        )
        assert response.status_code == 200
    statuses = [client.get(f"/api/v1/versions/{i}", headers=dev).json()["status"] for i in ids]
    assert statuses == ["approved", "production"]
    history = client.get(f"/api/v1/versions/{ids[0]}/history", headers=dev).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "candidate"),
        ("candidate", "production"),
        ("production", "approved"),
    ]
    assert history[-1]["reason"] == "replaced in production by v2"
    assert history[1]["by"] == "developer-user"
    assert client.get(f"/api/v1/filters/{toon}", headers=dev).json()["production"] == "v2"


def test_notes_edit_but_the_checkpoint_never_changes(
    client: TestClient, dev: dict, toon: str, tmp_path: Path
) -> None:
    version = push(client, dev, toon, ck.safetensors_file(tmp_path / "v1.st"), label="v1").json()
    edited = client.patch(
        f"/api/v1/versions/{version['id']}",
        json={"notes": "new notes", "checkpoint": {"sha256": "0" * 64}},
        headers=dev,
    ).json()
    assert edited["notes"] == "new notes"
    assert edited["checkpoint"] == version["checkpoint"]


def test_malicious_pickle_is_refused_and_its_command_never_runs(
    client: TestClient, app: FastAPI, dev: dict, toon: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    response = push(
        client,
        dev,
        toon,
        ck.malicious_pickle(tmp_path / "evil.pt", marker),
        label="evil",
        architecture="se-unet",
    )
    assert response.status_code == 422
    assert "Refused" in response.json()["detail"]
    assert not marker.exists()
    assert stored_versions(app) == 0
    assert list(app.state.blobs.iter_blobs()) == []


@pytest.mark.parametrize(
    ("make", "fields", "words"),
    [
        (lambda p: ck.full_module_pickle(p / "m.pt"), {"architecture": "se-unet"}, "state_dict"),
        (lambda p: ck.truncated(p / "t.st", ck.safetensors_file(p / "full.st")), {}, "damaged"),
        (lambda p: ck.text_file(p / "notes.pt", "not weights"), {}, "not a checkpoint"),
        (
            lambda p: ck.bare_safetensors_file(p / "b.st"),
            {"architecture": "gpt-9"},
            "known architectures",
        ),
        (
            lambda p: ck.bare_safetensors_file(p / "b.st"),
            {"architecture": "se-unet", "config": '{"base_width": 16, "depth": 2}'},
            "do not fit",
        ),
        (
            lambda p: ck.bare_safetensors_file(p / "b.st"),
            {"architecture": "se-unet", "config": "{not json"},
            "not valid JSON",
        ),
        (lambda p: ck.safetensors_file(p / "one.st", out_channels=1), {}, "must output 3"),
        (lambda p: ck.torchscript_file(p / "half.pt", ck.HalfSize()), {}, "keep height and width"),
        (lambda p: ck.torchscript_file(p / "nan.pt", ck.MakesNaN()), {}, "NaN"),
        (lambda p: ck.torchscript_file(p / "raise.pt", ck.Raises()), {}, "boom"),
        (lambda p: ck.text_file(p / "empty.pt", ""), {}, "empty"),
    ],
    ids=[
        "pickled-module",
        "truncated",
        "not-a-checkpoint",
        "unknown-arch",
        "config-mismatch",
        "config-not-json",
        "one-channel",
        "other-size",
        "nan",
        "raises",
        "empty",
    ],
)
def test_bad_checkpoints_are_refused_and_store_nothing(
    client: TestClient,
    app: FastAPI,
    dev: dict,
    toon: str,
    tmp_path: Path,
    make,
    fields: dict,
    words: str,
) -> None:
    response = push(client, dev, toon, make(tmp_path), label="bad", **fields)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert stored_versions(app) == 0
    assert list(app.state.blobs.iter_blobs()) == []
    assert list(app.state.blobs.iter_leftovers()) == []


def test_a_network_that_takes_too_long_is_refused(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data", checkpoint_check_seconds=5))
    make_user(app, role=Role.DEVELOPER, name="dev")
    headers = bearer(make_token(app, name="dev"))
    with TestClient(app) as client:
        slug = client.post("/api/v1/filters", json={"name": "Slow"}, headers=headers).json()["slug"]
        response = push(
            client, headers, slug, ck.torchscript_file(tmp_path / "s.pt", ck.Slow()), label="slow"
        )
    assert response.status_code == 422
    assert "longer than the 5 s limit" in response.json()["detail"]
    assert list(app.state.blobs.iter_blobs()) == []


def test_label_clash_duplicate_bytes_and_foreign_parent(
    client: TestClient, dev: dict, toon: str, tmp_path: Path
) -> None:
    path = ck.safetensors_file(tmp_path / "v1.st")
    assert push(client, dev, toon, path, label="v1").status_code == 201
    clash = push(client, dev, toon, ck.safetensors_file(tmp_path / "o.st", seed=9), label="v1")
    assert clash.status_code == 409 and "already has a version labelled 'v1'" in clash.text
    twin = push(client, dev, toon, path, label="v1-again")
    assert twin.status_code == 409 and "already version 'v1'" in twin.json()["detail"]
    other = client.post("/api/v1/filters", json={"name": "Sketch"}, headers=dev).json()["slug"]
    foreign = push(
        client, dev, other, ck.safetensors_file(tmp_path / "s.st", seed=3), label="s1", parent="v1"
    )
    assert foreign.status_code == 422 and "same filter" in foreign.json()["detail"]
    # The same bytes may be pushed to another filter (it is stored once).
    assert push(client, dev, other, path, label="s1").status_code == 201


@pytest.mark.parametrize("role", [Role.VIEWER, Role.QA])
def test_viewers_and_qa_cannot_push(
    client: TestClient, app: FastAPI, tokens: dict, toon: str, tmp_path: Path, role: Role
) -> None:
    response = push(
        client, bearer(tokens[role]), toon, ck.safetensors_file(tmp_path / "v.st"), label="v1"
    )
    assert response.status_code == 403
    assert stored_versions(app) == 0


def test_unknown_filter_and_version_are_clear_404s(client: TestClient, dev: dict) -> None:
    assert "No filter" in client.get("/api/v1/filters/nope", headers=dev).json()["detail"]
    assert "No version" in client.get("/api/v1/versions/999", headers=dev).json()["detail"]
    bad = client.post("/api/v1/filters", json={"name": "x", "slug": "Bad Slug!"}, headers=dev)
    assert bad.status_code == 422 and "not a valid slug" in bad.json()["detail"]
