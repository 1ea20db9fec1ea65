"""Faces end to end with the real detector (mediapipe, offline): the astronaut through the
worker's analysis, the faces API, a system tag, and an eye mask generated from its landmarks."""

import io

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from ganstudio import faces
from ganstudio.roles import Role
from tests.factories import bearer, make_sample

PUPILS = {"right": (202, 101), "left": (245, 102)}  # the person's own eyes, 512×512 astronaut


def astronaut_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def detector() -> None:
    try:
        faces.analyse_image(Image.new("RGB", (64, 64)))
    except faces.FaceAnalysisUnavailableError as exc:  # `make install` puts it in
        pytest.fail(f"the face detector is not installed: {exc}")


def test_the_astronaut_is_analysed_tagged_and_masked_from_its_landmarks(
    client: TestClient, app: FastAPI, tokens: dict, detector: None
) -> None:
    sample = make_sample(app, astronaut_png(), "astronaut.png")
    qa = bearer(tokens[Role.QA])
    while app.state.worker.analyse_next():
        pass

    analysis = client.get(f"/api/v1/samples/{sample}/faces", headers=qa).json()
    assert analysis["state"] == "done" and analysis["detector"] == faces.DETECTOR
    (face,) = analysis["faces"]
    for side, (x, y) in PUPILS.items():
        cx, cy = np.mean(face["landmarks"][f"{side}_eye"], axis=0)
        assert abs(cx - x) <= 6 and abs(cy - y) <= 6, (side, cx, cy)
    listed = client.get("/api/v1/samples?tag=face:one face", headers=qa).json()
    assert [s["id"] for s in listed["items"]] == [sample]

    made = client.post(f"/api/v1/samples/{sample}/mask/generate", headers=qa)
    assert made.status_code == 200, made.text
    assert made.json()["mask_source"] == "landmarks"
    mask = np.asarray(
        Image.open(io.BytesIO(client.get(made.json()["mask_url"], headers=qa).content))
    )
    assert mask.shape == (512, 512)
    assert all(mask[y, x] > 127 for x, y in PUPILS.values())  # both pupils covered
    assert mask[160, 224] == 0 and mask[60, 224] == 0  # not the mouth, not the forehead
    assert (mask > 0).mean() < 0.03
