"""The face pipeline through the real worker and executors: only the face crops change."""

import io
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import select

from ganstudio.db.tables import FaceAnalysis
from ganstudio.faces import analyse_image
from ganstudio.faces.crops import Crop, face_crop
from ganstudio.inference.render_spec import PipelineSettings, render_key
from ganstudio.roles import Role
from ganstudio.vocabulary import Pipeline
from tests import checkpoints as ck
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_renders import MaskOnly, compare

SIZE = 128  # the filter's input size: each crop's side at the network


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _inside(crop: Crop, size: tuple[int, int]) -> np.ndarray:
    """Pixels that touch the crop square (2 px of resampling spread beyond its edge)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    cos, sin = math.cos(crop.angle), math.sin(crop.angle)
    dx, dy = xs - crop.centre[0], ys - crop.centre[1]
    reach = crop.side / 2 + 2
    return (np.abs(dx * cos + dy * sin) <= reach) & (np.abs(-dx * sin + dy * cos) <= reach)


def _render(client: TestClient, token: str, cell: dict) -> np.ndarray:
    response = client.get(cell["render_url"], headers=bearer(token))
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def _grid(client: TestClient, app: FastAPI, token: str, slug: str, samples: list[int]) -> dict:
    created = compare(client, token, slug, ["a", "b"], samples)
    app.state.worker.run_until_idle()
    return client.get(f"/api/v1/comparisons/{created['id']}", headers=bearer(token)).json()


@pytest.fixture
def face_filter(app: FastAPI, tmp_path: Path) -> str:
    slug = make_filter(app, input_size=SIZE, pipeline="face")
    for n, label in ((1, "a"), (2, "b")):
        checkpoint = ck.safetensors_file(tmp_path / f"{label}.st", seed=n)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    return slug


def test_full_render_keys_are_unchanged_and_face_settings_are_in_the_key() -> None:
    full = PipelineSettings.for_filter(pipeline=Pipeline.FULL, input_size=512)
    assert full.as_dict() == {"pipeline": "full", "input_size": 512, "revision": 1}
    face = PipelineSettings.for_filter(pipeline=Pipeline.FACE, input_size=512)
    stored = face.as_dict()
    assert stored["face"]["faces"] == "all" and stored["face"]["detector"]
    assert PipelineSettings(**stored) == face  # read back from a render's row

    def key(settings: PipelineSettings) -> str:
        return render_key(
            checkpoint_sha256="a", input_sha256="b", mask_sha256=None, settings=settings
        )

    other = PipelineSettings(**{**stored, "face": {**stored["face"], "margin": 1.2}})
    assert len({key(full), key(face), key(other)}) == 3


def test_only_the_face_crop_changes(
    client: TestClient, app: FastAPI, tokens: dict, face_filter: str
) -> None:
    photo = Image.new("RGB", (900, 760), (70, 120, 60))
    photo.paste(Image.fromarray(data.astronaut()), (300, 180))
    sample = make_sample(app, _png(photo), "astronaut.png")
    token = tokens[Role.VIEWER]
    grid = _grid(client, app, token, face_filter, [sample])
    before = np.asarray(photo)
    (face,) = analyse_image(photo).faces
    inside = _inside(face_crop(face), photo.size)
    for cell in grid["cells"]:
        assert cell["state"] == "done" and cell["note"] is None, cell
        after = _render(client, token, cell)
        assert after.shape == before.shape  # the photo keeps its size
        assert np.array_equal(before[~inside], after[~inside])
        changed = np.abs(before[inside].astype(int) - after[inside].astype(int)).max(axis=1) > 8
        assert changed.mean() > 0.5  # the network's work is pasted in
    # The renders used the photo's one stored analysis (the one the pages show): it exists, and
    # the worker's background step has nothing left to analyse.
    with app.state.sessions() as session:
        analyses = session.scalars(select(FaceAnalysis)).all()
    assert [a.state for a in analyses] == ["done"]
    assert app.state.worker.analyse_next() is False


def test_three_faces_are_each_converted(
    client: TestClient, app: FastAPI, tokens: dict, face_filter: str
) -> None:
    head = Image.fromarray(data.astronaut()).crop((110, 0, 350, 260))
    photo = Image.new("RGB", (3 * 300, 320), (200, 200, 210))
    for n in range(3):
        photo.paste(head, (n * 300 + 30, 30))
    sample = make_sample(app, _png(photo), "three.png")
    token = tokens[Role.VIEWER]
    grid = _grid(client, app, token, face_filter, [sample])
    before = np.asarray(photo).astype(int)
    after = _render(client, token, grid["cells"][0]).astype(int)
    changed = np.abs(before - after).max(axis=2) > 8
    for n in range(3):  # each tile's face region has changed
        assert changed[80:200, n * 300 + 100 : n * 300 + 220].mean() > 0.5, n
    assert len(analyse_image(photo).faces) == 3


def test_a_photo_with_no_face_is_done_unchanged_with_a_note(
    client: TestClient, app: FastAPI, tokens: dict, face_filter: str
) -> None:
    gradient = np.linspace(0, 255, 200 * 160 * 3).reshape(160, 200, 3).astype(np.uint8)
    photo = Image.fromarray(gradient)
    sample = make_sample(app, _png(photo), "sky.png")
    token = tokens[Role.VIEWER]
    grid = _grid(client, app, token, face_filter, [sample])
    for cell in grid["cells"]:
        assert cell["state"] == "done" and cell["note"] == "no face found", cell
        assert np.array_equal(_render(client, token, cell), gradient)
    page = client.get(f"/c/{grid['slug']}", headers=bearer(token))
    assert page.status_code == 200 and "no face found" in page.text


def test_a_four_channel_face_version_uses_the_crop_eye_mask(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app, input_size=SIZE, pipeline="face")
    make_version(app, filter_slug=slug, label="a", checkpoint=ck.safetensors_file(tmp_path / "a"))
    make_version(
        app,
        filter_slug=slug,
        label="b",
        input_channels=4,
        checkpoint=ck.torchscript_file(tmp_path / "m.pt", MaskOnly()),
    )
    photo = Image.fromarray(data.astronaut())
    sample = make_sample(app, _png(photo), "astronaut.png")  # no mask uploaded
    token = tokens[Role.VIEWER]
    grid = _grid(client, app, token, slug, [sample])
    cell = next(c for c in grid["cells"] if c["version_id"] == grid["versions"][1]["id"])
    assert cell["state"] == "done", cell
    gray = _render(client, token, cell).mean(axis=2)
    # MaskOnly outputs the mask: white on the pupils, black on the cheek and below the nose.
    assert gray[101, 202] > 200 and gray[102, 245] > 200
    assert gray[160, 224] < 50 and gray[140, 180] < 50


def test_a_four_channel_face_version_renders_in_a_web_test(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app, input_size=SIZE, pipeline="face")
    make_version(
        app,
        filter_slug=slug,
        label="eyes",
        input_channels=4,
        checkpoint=ck.torchscript_file(tmp_path / "m.pt", MaskOnly()),
    )
    token = tokens[Role.VIEWER]
    started = client.post(
        "/api/v1/webtest",
        files={"image": ("me.png", _png(Image.fromarray(data.astronaut())), "image/png")},
        data={"versions": "eyes", "filter": slug},
        headers=bearer(token),
    )
    assert started.status_code == 201, started.text
    app.state.worker.run_until_idle()
    (render,) = client.get(started.json()["url"], headers=bearer(token)).json()["renders"]
    assert render["state"] == "done", render
    gray = _render(client, token, render).mean(axis=2)
    assert gray[101, 202] > 200 and gray[160, 224] < 50  # the eye mask, from landmarks


def test_a_web_test_of_a_photo_without_a_face_says_so(
    client: TestClient, app: FastAPI, tokens: dict, face_filter: str
) -> None:
    token = tokens[Role.VIEWER]
    flat = Image.new("RGB", (120, 90), (90, 140, 200))
    started = client.post(
        "/api/v1/webtest",
        files={"image": ("sky.png", _png(flat), "image/png")},
        data={"versions": "a", "filter": face_filter},
        headers=bearer(token),
    )
    assert started.status_code == 201, started.text
    app.state.worker.run_until_idle()
    (render,) = client.get(started.json()["url"], headers=bearer(token)).json()["renders"]
    assert render["state"] == "done" and render["note"] == "no face found", render
    assert np.array_equal(_render(client, token, render), np.asarray(flat))
