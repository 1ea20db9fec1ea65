"""Analyses through the API and the worker, with a stand-in engine (the Grad-CAM maths is the
engine's own tests'): region shares, bad input refused with a sentence, the content cache,
cancel, a dead worker's item queued again, the shapes the API promises, and the network input
being exactly a render's (the face crop on a face filter)."""

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from ganstudio.analysis.regions import NO_FACE
from ganstudio.db.tables import AnalysisItem
from ganstudio.faces.crops import cut, face_crop
from ganstudio.inference import networks
from ganstudio.inference.executor import ExecutorRefusedError
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.services import analyses as analyses_service
from ganstudio.vocabulary import AnalysisState
from tests import checkpoints as ck
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_render_blob_faults import fail_once
from tests.waiting import wait_for
from tests.web.faces_helpers import face_photo, fake_analyse, fake_faces  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_faces")
PHOTO = (160, 48)  # face_photo's size; the fake's face 0 has box (10, 10, 20, 20)
SIZE = 64


@dataclass(frozen=True)
class FakeAttention:
    method: str
    layer: str
    note: str
    heatmap: np.ndarray


@dataclass(frozen=True)
class FakeChannel:
    index: int
    strength: float
    pixels: np.ndarray


@dataclass(frozen=True)
class FakeFeatures:
    layer: str
    channels: list[FakeChannel]


class FakeEngine:
    """All of the map's mass in the input's top-left quarter; records what it was fed."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    def attention_of(self, warm, image, mask, region, *, layer, timeout):
        self.calls.append({"image": image.copy(), "mask": mask, "region": region, "layer": layer})
        if self.fail is not None:
            raise self.fail
        heat = np.zeros((image.height, image.width), np.float32)
        heat[: image.height // 2, : image.width // 2] = 1
        return FakeAttention("gradcam", layer or "bottleneck", "", heat / heat.sum())

    def features_of(self, warm, image, mask, *, layer, top, timeout):
        self.calls.append({"image": image.copy(), "layer": layer, "top": top})
        channels = [
            FakeChannel(i, 1.0 / (i + 1), np.full((8, 8), 40 * i, np.uint8)) for i in range(3)
        ]
        return FakeFeatures(layer or "bottleneck", channels)


@pytest.fixture
def engine(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(networks, "attention_of", fake.attention_of, raising=False)
    monkeypatch.setattr(networks, "features_of", fake.features_of, raising=False)
    # No executor process: the stand-in engine needs no network.
    monkeypatch.setattr(app.state.worker.pool, "get", lambda spec, read: object())
    return fake


def _filter(app: FastAPI, tmp_path: Path, pipeline: str = "full", name: str = "Toon") -> str:
    slug = make_filter(app, name=name, input_size=SIZE, pipeline=pipeline)
    for n, label in ((1, "a"), (2, "b")):
        checkpoint = ck.safetensors_file(tmp_path / f"{slug}-{label}.st", seed=n)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    return slug


def _start(client: TestClient, token: str, **body: Any):
    return client.post("/api/v1/analyses", json=body, headers=bearer(token))


def _run(app: FastAPI) -> int:
    ran = 0
    while app.state.worker.analysis_step():
        ran += 1
    return ran


def _read(client: TestClient, token: str, created: dict) -> dict:
    response = client.get(f"/api/v1/analyses/{created['id']}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def _analysed(client, app, token, **body) -> dict:
    response = _start(client, token, **body)
    assert response.status_code == 201, response.text
    _run(app)
    return _read(client, token, response.json())


def test_region_share_is_a_fraction_that_changes_with_the_region(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=1), "one.png")
    token = tokens[Role.VIEWER]
    shares = {}
    regions = {
        "image": "image",
        "top-left": {"box": [0, 0, 80, 24]},
        "bottom-right": {"box": [80, 24, 80, 24]},
        "eyes": "eyes",
        "face": "face",
    }
    for name, region in regions.items():
        read = _analysed(
            client, app, token, filter=slug, versions=["a", "b"], samples=[sample], region=region
        )
        assert [i["state"] for i in read["items"]] == ["done", "done"], read["items"]
        shares[name] = read["items"][0]["region_share"]
        assert all(0 <= i["region_share"] <= 1 for i in read["items"])
    assert shares["image"] == pytest.approx(1.0)
    assert shares["top-left"] == pytest.approx(1.0, abs=0.05)
    assert shares["bottom-right"] == pytest.approx(0.0, abs=0.05)
    # The eyes lie in the hot quarter but cover little of it; the face box covers more.
    assert 0 < shares["eyes"] < shares["face"] < shares["image"]
    # The region the engine was asked to explain is at the network input's size, 0..1.
    region = engine.calls[-1]["region"]
    assert region.shape == (round(48 * SIZE / 160), SIZE) and region.max() <= 1


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ([200, 0, 10, 10], "outside"),
        ([-50, -50, 20, 20], "outside"),
        ([10, 10, 0, 5], "empty"),
        ([10, 10, 5, -3], "empty"),
        ([1, 2, 3], "four numbers"),
    ],
)
def test_a_box_outside_the_photo_or_empty_is_refused_with_a_sentence(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, box, words: str
) -> None:
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=2), "one.png")
    response = _start(
        client, tokens[Role.VIEWER], filter=slug, samples=[sample], region={"box": box}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words in detail
    with app.state.sessions() as session:
        assert session.query(AnalysisItem).count() == 0


def test_an_unknown_layer_is_refused_listing_the_known_layers(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=3), "one.png")
    token = tokens[Role.VIEWER]
    version_id = _read_version_id(client, token, slug, "a")
    layers = client.get(f"/api/v1/versions/{version_id}/layers", headers=bearer(token)).json()
    response = _start(
        client, token, filter=slug, versions=["a"], samples=[sample], layer="no.such.layer"
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "no.such.layer" in detail
    for layer in layers:
        assert layer["name"] in detail
    ok = _start(
        client, token, filter=slug, versions=["a"], samples=[sample], layer=layers[-1]["name"]
    )
    assert ok.status_code == 201, ok.text


def _read_version_id(client: TestClient, token: str, slug: str, label: str) -> int:
    versions = client.get(f"/api/v1/filters/{slug}/versions", headers=bearer(token)).json()
    return next(v["id"] for v in versions["items"] if v["label"] == label)


def test_the_same_analysis_twice_does_no_new_work(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=10 + n), f"p{n}.png") for n in range(2)]
    token = tokens[Role.VIEWER]
    body = {"filter": slug, "versions": ["a", "b"], "samples": samples, "region": "eyes"}
    first = _analysed(client, app, token, **body)
    assert len(engine.calls) == 4
    again = _start(client, token, **body)
    assert again.status_code == 201
    job = again.json()["job"]
    assert (job["status"], job["done"], job["total"]) == ("done", 4, 4)  # done at creation
    assert _run(app) == 0 and len(engine.calls) == 4
    second = _read(client, token, again.json())
    assert [i["map_url"] for i in second["items"]] == [i["map_url"] for i in first["items"]]
    assert [i["region_share"] for i in second["items"]] == [
        i["region_share"] for i in first["items"]
    ]
    # Another region is other work.
    _analysed(client, app, token, **{**body, "region": "face"})
    assert len(engine.calls) == 8


def test_cancel_stops_the_remaining_items(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=20 + n), f"p{n}.png") for n in range(3)]
    token = tokens[Role.VIEWER]
    created = _start(client, token, filter=slug, samples=samples, region="image").json()
    assert created["job"]["total"] == 6
    assert app.state.worker.analysis_step()  # one item runs
    job = f"/api/v1/jobs/{created['job']['id']}"
    stranger = tokens[Role.QA]  # not the owner, not a developer: may not cancel
    assert client.post(f"{job}/cancel", headers=bearer(stranger)).status_code == 403
    cancelled = client.post(f"{job}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.text
    assert _run(app) == 0
    progress = client.get(job, headers=bearer(token)).json()
    assert progress["kind"] == "analysis"
    assert (progress["status"], progress["done"], progress["cancelled"]) == ("cancelled", 1, 5)
    states = [i["state"] for i in _read(client, token, created)["items"]]
    assert states.count("done") == 1 and states.count("cancelled") == 5
    assert len(engine.calls) == 1


def test_a_worker_dying_mid_item_gets_it_queued_again(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=30), "p.png")
    token = tokens[Role.VIEWER]
    created = _start(client, token, filter=slug, versions=["a"], samples=[sample]).json()
    with app.state.sessions.begin() as session:  # a worker claims it, then dies
        claimed = analyses_service.claim_next_item(session, worker_id="dead-worker")
    assert claimed is not None
    assert _run(app) == 0  # running elsewhere: nobody else takes it
    assert _read(client, token, created)["items"][0]["state"] == "running"
    restarted = RenderWorker(
        sessions=app.state.sessions, blobs=app.state.blobs, settings=app.state.settings
    )
    assert restarted.recover() == 1
    assert _read(client, token, created)["items"][0]["state"] == "queued"
    assert _run(app) == 1
    item = _read(client, token, created)["items"][0]
    assert item["state"] == "done" and item["map_url"]
    with app.state.sessions() as session:
        assert session.get(AnalysisItem, claimed).attempts == 2


def test_an_item_the_blob_store_failed_goes_back_to_the_queue_and_is_done(
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    tmp_path: Path,
    engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A serving worker whose blob store is briefly unreachable: the item is not failed (the
    store's fault, not the photo's or the version's); the worker gives it back, waits, and
    does it once the store answers."""
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=31), "p.png")
    token = tokens[Role.VIEWER]
    created = _start(client, token, filter=slug, versions=["a"], samples=[sample]).json()
    worker = app.state.worker
    calls = fail_once(monkeypatch, worker.blobs, "read_bytes")  # the photo, on the first try
    stop = threading.Event()
    serving = threading.Thread(target=worker.serve, args=(stop,), kwargs={"poll_seconds": 0.05})
    with caplog.at_level(logging.WARNING, logger="ganstudio"):
        serving.start()
        try:
            wait_for(
                lambda: (
                    _read(client, token, created)["items"][0]["state"] not in ("queued", "running")
                ),
                "the item to finish",
            )
        finally:
            stop.set()
            serving.join(timeout=120)
    assert calls and not serving.is_alive()
    item = _read(client, token, created)["items"][0]
    assert item["state"] == "done" and not item["error"] and item["map_url"], item
    with app.state.sessions() as session:
        (row,) = session.scalars(select(AnalysisItem)).all()
        assert row.attempts == 2  # given back once, then done
    assert "lost the blob store" in caplog.text


def test_the_api_shapes(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=40 + n), f"p{n}.png") for n in range(2)]
    viewer = tokens[Role.VIEWER]
    assert (
        client.post("/api/v1/analyses", json={"filter": slug, "samples": samples}).status_code
        == 401
    )
    created = _start(
        client, viewer, filter=slug, versions=["b", "a"], samples=samples, region="eyes"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) >= {"id", "url", "job"} and body["url"] == f"/analyses/{body['slug']}"
    assert body["job"]["kind"] == "analysis" and body["job"]["total"] == 4
    _run(app)
    read = _read(client, viewer, body)
    assert read["kind"] == "gradcam" and read["region"] == {"kind": "eyes"}
    item = read["items"][0]
    assert set(item) >= {
        "version_id",
        "label",
        "sample_id",
        "state",
        "map_url",
        "region_share",
        "layer",
        "method",
        "note",
        "error",
    }
    assert [i["label"] for i in read["items"]] == ["b", "a", "b", "a"]  # sample, then version order
    assert [i["sample_id"] for i in read["items"]] == [samples[0]] * 2 + [samples[1]] * 2
    assert item["method"] == "gradcam"
    overlay = client.get(item["map_url"], headers=bearer(viewer))
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(overlay.content)).mode == "RGB"
    summary = {s["label"]: s for s in read["summary"]}
    assert [s["label"] for s in read["summary"]] == ["b", "a"]
    shares = [i["region_share"] for i in read["items"] if i["label"] == "a"]
    assert summary["a"]["mean_share"] == pytest.approx(sum(shares) / 2, abs=1e-4)
    assert summary["a"]["median_share"] == pytest.approx(sum(shares) / 2, abs=1e-4)
    assert summary["a"]["done"] == 2
    assert client.get("/api/v1/analyses/999999", headers=bearer(viewer)).status_code == 404

    version_id = read["items"][0]["version_id"]
    layers = client.get(f"/api/v1/versions/{version_id}/layers", headers=bearer(viewer))
    assert layers.status_code == 200, layers.text
    listed = layers.json()
    assert listed[0]["default"] is True and not any(x["default"] for x in listed[1:])
    assert set(listed[0]) >= {"name", "type", "channels", "scale", "default", "method", "note"}
    assert listed[0]["method"] == "gradcam"
    # No layer asked: each version's default, named on its items.
    assert {i["layer"] for i in read["items"]} == {listed[0]["name"]}

    features = _analysed(
        client, app, viewer, filter=slug, versions=["a"], samples=samples[:1], kind="features"
    )
    grid = features["items"][0]
    assert grid["state"] == "done" and grid["region_share"] is None and grid["method"] == "features"
    assert (
        client.get(grid["map_url"], headers=bearer(viewer)).headers["content-type"] == "image/png"
    )


def test_torchscript_versions_say_they_use_input_gradient_saliency(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app, name="Scripted", input_size=SIZE)
    checkpoint = ck.torchscript_file(tmp_path / "s.pt")
    version_id = make_version(app, filter_slug=slug, label="ts", checkpoint=checkpoint)
    listed = client.get(
        f"/api/v1/versions/{version_id}/layers", headers=bearer(tokens[Role.VIEWER])
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()[0]["method"] == "saliency" and listed.json()[0]["note"]


def test_eyes_on_a_photo_without_a_face_fail_that_item_saying_what_to_do(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    faceless = make_sample(app, face_photo(0, seed=50), "nobody.png")
    token = tokens[Role.VIEWER]
    read = _analysed(
        client, app, token, filter=slug, versions=["a"], samples=[faceless], region="eyes"
    )
    assert read["items"][0]["state"] == "failed"
    assert read["items"][0]["error"] == NO_FACE
    ok = _analysed(
        client, app, token, filter=slug, versions=["a"], samples=[faceless], region="image"
    )
    assert ok["items"][0]["state"] == "done"


def test_a_network_failing_under_autograd_fails_its_item_saying_so(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=60), "p.png")
    engine.fail = ExecutorRefusedError("not differentiable: an op has no gradient", "analysis")
    read = _analysed(
        client, app, tokens[Role.VIEWER], filter=slug, versions=["a"], samples=[sample]
    )
    item = read["items"][0]
    assert item["state"] == "failed" and "not differentiable" in item["error"]
    progress = read["job"]
    assert progress["status"] == "failed" and progress["errors"][0]["error"] == item["error"]


def test_a_face_filter_is_analysed_on_the_largest_face_crop_a_render_would_see(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    slug = _filter(app, tmp_path, pipeline="face", name="Face toon")
    photo_bytes = face_photo(2, seed=70)
    sample = make_sample(app, photo_bytes, "two.png")
    read = _analysed(
        client,
        app,
        tokens[Role.VIEWER],
        filter=slug,
        versions=["a"],
        samples=[sample],
        region="eyes",
    )
    assert read["items"][0]["state"] == "done", read["items"]
    photo = Image.open(io.BytesIO(photo_bytes)).convert("RGB")
    largest = fake_analyse(photo).faces[0]
    fed = engine.calls[-1]["image"]
    expected = cut(photo, face_crop(largest), SIZE)
    assert fed.size == (SIZE, SIZE)
    assert np.array_equal(np.asarray(fed), np.asarray(expected))
    region = engine.calls[-1]["region"]
    assert region.shape == (SIZE, SIZE) and 0 < region.mean() < 0.5  # the eyes, cut like the crop
    # A face filter on a photo without a face has nothing to analyse, and says so.
    faceless = make_sample(app, face_photo(0, seed=71), "nobody.png")
    none = _analysed(
        client,
        app,
        tokens[Role.VIEWER],
        filter=slug,
        versions=["a"],
        samples=[faceless],
        region="image",
    )
    assert none["items"][0]["state"] == "failed" and "no face" in none["items"][0]["error"]


def test_a_thousand_samples_are_created_in_bulk_and_cancelled(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    from ganstudio.db.tables import Sample

    slug = _filter(app, tmp_path)
    base = make_sample(app, face_photo(1, seed=80), "p.png")
    with app.state.sessions() as session:  # 999 more rows naming the same image
        one = session.get(Sample, base)
        assert one is not None
        for n in range(999):
            session.add(
                Sample(
                    sha256=f"{n:064x}",
                    filename=f"p{n}.png",
                    format="PNG",
                    mode="RGB",
                    width=one.width,
                    height=one.height,
                    size_bytes=one.size_bytes,
                    thumb_sha256=one.thumb_sha256,
                )
            )
        session.commit()
        ids = [base, *[s.id for s in session.query(Sample).filter(Sample.id != base)]]
    token = tokens[Role.VIEWER]
    created = _start(client, token, filter=slug, versions=["a", "b"], samples=ids[:1000])
    assert created.status_code == 201, created.text
    assert created.json()["job"]["total"] == 2000
    job = f"/api/v1/jobs/{created.json()['job']['id']}"
    assert client.post(f"{job}/cancel", headers=bearer(token)).json()["status"] == "cancelled"
    assert not app.state.worker.analysis_step()
    with app.state.sessions() as session:
        states = {i.state for i in session.query(AnalysisItem)}
    assert states == {AnalysisState.CANCELLED}


def test_the_analysis_pages_start_show_and_cancel_an_analysis(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=90 + n), f"p{n}.png") for n in range(3)]
    made = client.post(
        "/api/v1/comparisons",
        json={"filter": slug, "versions": ["a", "b"], "samples": samples},
        headers=bearer(tokens[Role.VIEWER]),
    )
    comparison = made.json()["slug"]
    browser, csrf = signed_in(Role.VIEWER)
    assert f"/analyses/new?comparison={comparison}" in browser.get(f"/c/{comparison}").text
    form = browser.get(f"/analyses/new?comparison={comparison}")
    assert form.status_code == 200 and "3 samples" in form.text
    refused = browser.post(
        "/analyses",
        data={"csrf_token": csrf, "comparison": comparison, "region": "eyes", "layer": "nope"},
    )
    assert refused.status_code == 200 and "nope" in refused.text  # back on the form, saying why
    started = browser.post(
        "/analyses",
        data={"csrf_token": csrf, "comparison": comparison, "region": "eyes"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = started.headers["location"]
    assert app.state.worker.analysis_step()  # one item done, five queued
    page = browser.get(url)
    assert page.status_code == 200
    assert page.text.count('data-testid="analysis-row"') == 3
    assert (
        page.text.count('data-state="done"') == 1 and 'data-testid="analysis-cancel"' in page.text
    )
    assert 'hx-get="' + url + '/live"' in page.text  # it polls while the job runs
    cancelled = browser.post(f"{url}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 200 and "cancelled" in cancelled.text
    assert _run(app) == 0
    after = browser.get(f"{url}/live").text
    assert after.count('data-state="cancelled"') == 5 and "hx-get" not in after
    assert after.count('data-testid="share-bar"') == 1  # the one version with a share
