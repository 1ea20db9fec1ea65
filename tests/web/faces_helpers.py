"""A deterministic stand-in for the face library (`ganstudio.faces`), and photos it reads.

The fake reads a photo's top-left pixel: red // 60 faces (0…4), eyes closed when green ≥ 200.
Face i has box (10 + 30·i, 10, 20, 20) and eyes as 4×2 rectangles at (13, 16) and (23, 16)
(shifted by 30·i); `eye_mask` fills each eye's bounding box grown by 1 px. Tests assert what
GAN Studio does with an analysis (storage, shapes, tags, masks, renders), never detector quality.
"""

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ganstudio import faces

FAKE_DETECTOR = "fake-faces 1 r1"


def _face(index: int, closed: bool) -> faces.Face:
    dx = 30 * index

    def eye(x: float) -> list[faces.Point]:
        return [(x + dx, 16.0), (x + 4 + dx, 16.0), (x + 4 + dx, 18.0), (x + dx, 18.0)]

    openness = 0.05 if closed else 0.3
    return faces.Face(
        box=(10.0 + dx, 10.0, 20.0, 20.0),
        score=0.9,
        landmarks={
            "left_eye": eye(13),
            "right_eye": eye(23),
            "left_eye_centre": [(15.0 + dx, 17.0)],
            "right_eye_centre": [(25.0 + dx, 17.0)],
            "nose": [(20.0 + dx, 22.0)],
            "mouth": [(16.0 + dx, 26.0), (24.0 + dx, 26.0)],
        },
        eyes_open={"left": openness, "right": openness},
    )


def fake_analyse(image: Image.Image, *, max_faces: int = faces.MAX_FACES) -> faces.FaceAnalysis:
    red, green, _blue = image.convert("RGB").getpixel((0, 0))  # type: ignore[misc]
    found = [_face(i, closed=green >= 200) for i in range(min(red // 60, max_faces))]
    return faces.FaceAnalysis(FAKE_DETECTOR, image.width, image.height, found)


def fake_eye_mask(
    size: tuple[int, int], found: Sequence[faces.Face], *, margin: float = 0.35, feather: float = 0
) -> Image.Image:
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for face in found:
        for name in ("left_eye", "right_eye"):
            xs = [p[0] for p in face.landmarks[name]]
            ys = [p[1] for p in face.landmarks[name]]
            draw.rectangle((min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1), fill=255)
    return mask


def _face_json(face: faces.Face) -> dict[str, Any]:
    return {
        "box": list(face.box),
        "score": face.score,
        "landmarks": {k: [list(p) for p in v] for k, v in face.landmarks.items()},
        "eyes_open": dict(face.eyes_open),
    }


def _face_from(data: dict[str, Any]) -> faces.Face:
    return faces.Face(
        box=tuple(data["box"]),  # type: ignore[arg-type]
        score=data["score"],
        landmarks={k: [tuple(p) for p in v] for k, v in data["landmarks"].items()},
        eyes_open=data["eyes_open"],
    )


def _analysis_json(self: faces.FaceAnalysis) -> dict[str, Any]:
    return {
        "detector": self.detector,
        "width": self.width,
        "height": self.height,
        "faces": [_face_json(f) for f in self.faces],
    }


def _analysis_from(cls: type, data: dict[str, Any]) -> faces.FaceAnalysis:
    found = [_face_from(f) for f in data["faces"]]
    return faces.FaceAnalysis(data["detector"], data["width"], data["height"], found)


def install_fake_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the fake in place of the face library (in this process: the live server's too)."""
    monkeypatch.setattr(faces, "DETECTOR", FAKE_DETECTOR)
    monkeypatch.setattr(faces, "analyse_image", fake_analyse)
    monkeypatch.setattr(faces, "eye_mask", fake_eye_mask)
    monkeypatch.setattr(faces, "eyes_closed", lambda face: max(face.eyes_open.values()) < 0.12)
    monkeypatch.setattr(faces.FaceAnalysis, "to_json", _analysis_json)
    monkeypatch.setattr(faces.FaceAnalysis, "from_json", classmethod(_analysis_from))


@pytest.fixture
def fake_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_faces(monkeypatch)


def face_photo(
    n_faces: int = 1, *, closed: bool = False, seed: int = 0, size: tuple[int, int] = (160, 48)
) -> bytes:
    """A PNG the fake finds `n_faces` faces in (eyes closed or not); `seed` makes it unique."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 120, (size[1], size[0], 3), dtype=np.uint8)
    pixels[0, 0] = (60 * n_faces + 10, 220 if closed else 20, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
