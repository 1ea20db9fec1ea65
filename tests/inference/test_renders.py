"""The render engine: cells fill, renders are computed once, failures stay on their cells."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from ganstudio.db.tables import Render
from ganstudio.inference.pipeline import pad_to_stride, run_full
from ganstudio.inference.render_spec import PipelineSettings
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.services import samples as samples_service
from ganstudio.vocabulary import JobKind, RenderState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version


class Identity(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3]


class MaskOnly(torch.nn.Module):
    """Outputs the 4th channel (the mask) as gray: proves the mask reaches the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 3:4].repeat(1, 3, 1, 1)


def compare(client: TestClient, token: str, slug: str, versions: list[str], samples: list[int]):
    response = client.post(
        "/api/v1/comparisons",
        json={"filter": slug, "versions": versions, "samples": samples},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_pipeline_round_trips_pixels_through_an_identity_network() -> None:
    rgb = Image.open(io.BytesIO(imagegen.distinct_png(4, size=(50, 30)))).convert("RGB")
    out = run_full(
        Identity(), rgb, settings=PipelineSettings("full", 64), stride=8, input_channels=3
    )
    assert out.size == (50, 30)  # padded to 56×32 for the network, cropped back
    assert out.tobytes() == rgb.tobytes()
    shrunk = run_full(
        Identity(), rgb, settings=PipelineSettings("full", 25), stride=8, input_channels=3
    )
    assert shrunk.size == (25, 15)  # longest side fitted, aspect kept


def test_reflection_padding_reaches_the_stride() -> None:
    x = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7)
    padded, size = pad_to_stride(x, 4)
    assert padded.shape == (1, 2, 8, 8) and size == (5, 7)
    assert torch.equal(padded[..., 5, :7], x[..., 3, :])  # reflected, not zeros


def test_cells_fill_and_a_second_comparison_renders_nothing(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app)
    make_version(app, filter_slug=slug, label="v1", checkpoint=ck.safetensors_file(tmp_path / "a"))
    make_version(
        app,
        filter_slug=slug,
        label="v2",
        checkpoint=ck.torchscript_file(tmp_path / "id.pt", Identity()),
    )
    sample_ids = [
        make_sample(app, imagegen.distinct_png(n, size=(80, 60)), f"s{n}.png") for n in range(3)
    ]
    token = tokens[Role.VIEWER]
    first = compare(client, token, slug, ["v1", "v2"], sample_ids)
    assert first["job"]["status"] == "queued" and first["job"]["total"] == 6
    worker: RenderWorker = app.state.worker
    assert worker.run_until_idle() == 6
    assert worker.pool.loads == 2  # each network loaded once for the whole batch
    with app.state.sessions() as session:
        order = session.scalars(select(Render.version_id).order_by(Render.claimed_at)).all()
    assert order == sorted(order, key=order.index)  # one network's renders in a row, not v1 v2 v1
    grid = client.get(f"/api/v1/comparisons/{first['slug']}", headers=bearer(token)).json()
    assert [v["label"] for v in grid["versions"]] == ["v1", "v2"]
    assert {c["state"] for c in grid["cells"]} == {"done"}
    assert grid["job"]["status"] == "done" and grid["job"]["done"] == 6
    image = client.get(grid["cells"][0]["render_url"], headers=bearer(token))
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)  # fitted to input size 64
    identity_id = grid["versions"][1]["id"]
    for cell in grid["cells"]:
        if cell["version_id"] != identity_id:
            continue
        got = client.get(cell["render_url"], headers=bearer(token)).content
        with app.state.sessions() as session:
            sample = samples_service.get_sample(session, sample_id=cell["sample_id"])
            original = Image.open(io.BytesIO(app.state.blobs.read_bytes(sample.sha256)))
        expected = original.convert("RGB").resize((64, 48), Image.Resampling.LANCZOS)
        assert Image.open(io.BytesIO(got)).tobytes() == expected.tobytes()  # its own sample

    again = compare(client, token, slug, ["v2", "v1"], sample_ids[:2])
    assert again["job"]["status"] == "done" and again["job"]["done"] == 4
    assert worker.run_until_idle() == 0  # computed once, ever


def test_a_failing_version_shows_why_and_the_others_render(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app)
    make_version(
        app, filter_slug=slug, label="good", checkpoint=ck.safetensors_file(tmp_path / "g")
    )
    make_version(
        app,
        filter_slug=slug,
        label="bad",
        checkpoint=ck.torchscript_file(tmp_path / "bad.pt", ck.Raises()),
    )
    samples = [make_sample(app, imagegen.distinct_png(n), f"{n}.png") for n in range(2)]
    created = compare(client, tokens[Role.VIEWER], slug, ["good", "bad"], samples)
    app.state.worker.run_until_idle()
    grid = client.get(
        f"/api/v1/comparisons/{created['id']}", headers=bearer(tokens[Role.VIEWER])
    ).json()
    states = {(c["version_id"], c["state"]) for c in grid["cells"]}
    assert len(states) == 2
    bad_cells = [c for c in grid["cells"] if c["state"] == "failed"]
    assert len(bad_cells) == 2 and "boom" in bad_cells[0]["error"]
    job = client.get(
        f"/api/v1/jobs/{created['job']['id']}", headers=bearer(tokens[Role.VIEWER])
    ).json()
    assert (job["status"], job["done"], job["failed"]) == ("done", 2, 2)
    assert "boom" in job["errors"][0]["error"]


def test_four_channel_versions_take_the_mask(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app)
    make_version(app, filter_slug=slug, label="rgb", checkpoint=ck.safetensors_file(tmp_path / "a"))
    make_version(
        app,
        filter_slug=slug,
        label="mask",
        input_channels=4,
        checkpoint=ck.torchscript_file(tmp_path / "m.pt", MaskOnly()),
    )
    with_mask = make_sample(app, imagegen.distinct_png(1, size=(40, 30)), "masked.png")
    without = make_sample(app, imagegen.distinct_png(2, size=(40, 30)), "bare.png")
    mask = Image.new("L", (40, 30), 0)
    mask.paste(255, (0, 0, 20, 30))  # left half white
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    with app.state.sessions() as session:
        sample = samples_service.get_sample(session, sample_id=with_mask)
        samples_service.set_mask(
            session,
            app.state.blobs,
            sample=sample,
            stream=buffer,
            max_pixels=10**7,
            max_bytes=10**7,
            actor=None,
        )
        session.commit()
    created = compare(client, tokens[Role.VIEWER], slug, ["rgb", "mask"], [with_mask, without])
    app.state.worker.run_until_idle()
    grid = client.get(
        f"/api/v1/comparisons/{created['id']}", headers=bearer(tokens[Role.VIEWER])
    ).json()
    mask_id = grid["versions"][1]["id"]
    cells = {(c["version_id"], c["sample_id"]): c for c in grid["cells"]}
    assert cells[(mask_id, without)]["state"] == "failed"
    # No uploaded mask: the eye mask from landmarks, and without a face (or a detector) none.
    assert "no eye mask" in cells[(mask_id, without)]["error"].lower()
    rendered = client.get(
        cells[(mask_id, with_mask)]["render_url"], headers=bearer(tokens[Role.VIEWER])
    )
    pixels = Image.open(io.BytesIO(rendered.content)).convert("L")
    assert pixels.getpixel((5, 15)) == 255 and pixels.getpixel((35, 15)) == 0
    rgb_cells = [c for c in grid["cells"] if c["version_id"] != mask_id]
    assert {c["state"] for c in rgb_cells} == {"done"}  # 3-channel versions ignore masks


def test_a_mask_over_the_pixel_limit_fails_its_cell_undecoded(tmp_path: Path) -> None:
    from ganstudio.app import create_app
    from ganstudio.services import renders as renders_service
    from ganstudio.services.versions import get_version
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path / "data", max_image_pixels=10_000))
    slug = make_filter(app)
    version_id = make_version(
        app,
        filter_slug=slug,
        label="mask",
        checkpoint=ck.safetensors_file(tmp_path / "m.st", in_channels=4),
    )
    sample_id = make_sample(app, imagegen.distinct_png(1, size=(40, 30)), "masked.png")
    buffer = io.BytesIO()
    Image.new("L", (200, 100), 255).save(buffer, "PNG")  # 20,000 pixels: over the limit
    with app.state.sessions() as session:
        sample = samples_service.get_sample(session, sample_id=sample_id)
        # A mask in the store that today's limit refuses (stored before the limit was lowered,
        # or written behind the upload's back): the worker must not decode it unguarded.
        sample.mask_sha256 = app.state.blobs.put_bytes(buffer.getvalue()).sha256
        render = renders_service.ensure_render(
            session,
            version=get_version(session, version_id=version_id),
            input_sha256=sample.sha256,
            mask_sha256=sample.mask_sha256,
            settings=PipelineSettings("full", 64),
        )
        renders_service.create_job(session, kind=JobKind.COMPARISON, renders=[render], actor=None)
        session.commit()
        render_id = render.id
    assert app.state.worker.run_until_idle() == 1
    assert app.state.worker.pool.loads == 0  # refused before any network was started
    with app.state.sessions() as session:
        failed = session.get(Render, render_id)
        assert failed.state == RenderState.FAILED
        assert failed.error.startswith("The sample's mask was not decoded: ")
        assert "10,000-pixel limit" in failed.error and "smaller mask" in failed.error


def test_a_killed_worker_is_replaced_and_the_job_finishes(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    # Small networks and images: the worker is killed after 2 of 18 renders whatever their speed
    # (3 networks, each a fresh executor, stand between the 2nd render and the 18th).
    slug = make_filter(app, input_size=128)
    for n in (1, 2, 3):
        make_version(
            app,
            filter_slug=slug,
            label=f"v{n}",
            checkpoint=ck.safetensors_file(tmp_path / f"v{n}.st", seed=n, base_width=8, depth=2),
        )
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=(128, 128)), f"{n}.png") for n in range(6)
    ]
    created = compare(client, tokens[Role.VIEWER], slug, ["v1", "v2", "v3"], samples)
    env = {
        **os.environ,
        "GANSTUDIO_DATA_DIR": str(app.state.settings.resolved_data_dir),
        "GANSTUDIO_DATABASE_URL": app.state.settings.sqlalchemy_url,  # SQLite's, or PostgreSQL's
        "GANSTUDIO_WORKER": "off",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def finished() -> dict[int, object]:
        with app.state.sessions() as session:
            return dict(
                session.execute(
                    select(Render.id, Render.finished_at).where(Render.state == RenderState.DONE)
                ).all()
            )

    deadline = time.monotonic() + 120
    while len(finished()) < 2 and time.monotonic() < deadline:  # a wait, not a timing claim
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no clean-up: a crash mid-job
    process.wait()
    before = finished()
    assert 2 <= len(before) < 18, "the worker should die mid-job"

    replacement = RenderWorker(
        sessions=app.state.sessions, blobs=app.state.blobs, settings=app.state.settings
    )
    replacement.recover()
    ran = replacement.run_until_idle()
    after = finished()
    assert len(after) == 18
    assert ran == 18 - len(before)  # nothing rendered twice
    assert all(after[render_id] == at for render_id, at in before.items())
    job = client.get(
        f"/api/v1/jobs/{created['job']['id']}", headers=bearer(tokens[Role.VIEWER])
    ).json()
    assert job["status"] == "done" and job["done"] == 18


def test_bad_comparison_requests_are_clear_4xx(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app)
    for n in range(1, 10):
        make_version(
            app,
            filter_slug=slug,
            label=f"v{n}",
            checkpoint=ck.safetensors_file(tmp_path / f"{n}.st", seed=n),
        )
    sample = make_sample(app, imagegen.distinct_png(1), "a.png")
    auth = bearer(tokens[Role.VIEWER])
    cases = [
        ({"filter": "nope", "versions": ["v1", "v2"], "samples": [sample]}, 404, "No filter"),
        ({"filter": slug, "versions": ["v1", "zz"], "samples": [sample]}, 422, "not a version"),
        (
            {"filter": slug, "versions": [f"v{n}" for n in range(1, 10)], "samples": [sample]},
            422,
            "2 to 8 versions",
        ),
        ({"filter": slug, "versions": ["v1"], "samples": [sample]}, 422, "2 to 8 versions"),
        ({"filter": slug, "versions": ["v1", "v2"], "samples": [99999]}, 422, "No sample"),
        ({"filter": slug, "versions": ["v1", "v2"]}, 422, "Choose the samples"),
        ({"filter": slug, "versions": ["v1", "v2"], "set": "no such set"}, 404, "No sample set"),
    ]
    for body, status, words in cases:
        response = client.post("/api/v1/comparisons", json=body, headers=auth)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"]
    assert client.get("/api/v1/comparisons/nope", headers=auth).status_code == 404
    assert client.get("/api/v1/jobs/12345", headers=auth).status_code == 404
    with app.state.sessions() as session:
        assert session.scalars(select(Render)).first() is None
