"""The face library on scikit-image's real photos: detection, landmarks, openness, masks, JSON."""

import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

from ganstudio.faces import (
    DETECTOR,
    EYES_CLOSED_BELOW,
    Face,
    FaceAnalysis,
    FaceAnalysisUnavailableError,
    analyse_image,
    eye_mask,
    eyes_closed,
)

# The astronaut's pupils, by eye in the 512×512 photo: her left eye is on the image's right.
LEFT_PUPIL, RIGHT_PUPIL = (245, 102), (202, 101)
FOREHEAD, BELOW_NOSE = (224, 60), (224, 160)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def face(astronaut: Image.Image) -> Face:
    analysis = analyse_image(astronaut)
    assert len(analysis.faces) == 1
    return analysis.faces[0]


def _centre(face: Face, eye: str) -> tuple[float, float]:
    return face.landmarks[f"{eye}_eye_centre"][0]


def test_astronaut_one_face_with_eye_centres_on_the_pupils(
    astronaut: Image.Image, face: Face
) -> None:
    analysis = analyse_image(astronaut)
    assert (analysis.detector, analysis.width, analysis.height) == (DETECTOR, 512, 512)
    assert math.dist(_centre(face, "left"), LEFT_PUPIL) < 6
    assert math.dist(_centre(face, "right"), RIGHT_PUPIL) < 6
    for group in ("left_eye", "right_eye", "nose", "mouth"):
        assert len(face.landmarks[group]) >= 3, group
    x, y, w, h = face.box
    assert x < RIGHT_PUPIL[0] and LEFT_PUPIL[0] < x + w and y < 101 and y + h > 160
    assert 0.5 <= face.score <= 1
    assert not eyes_closed(face)
    assert min(face.eyes_open.values()) > 2 * EYES_CLOSED_BELOW


def test_astronaut_mask_covers_the_pupils_not_the_mouth_nor_the_forehead(face: Face) -> None:
    mask = eye_mask((512, 512), [face])
    assert (mask.mode, mask.size) == ("L", (512, 512))
    pixels = np.asarray(mask)
    assert pixels[LEFT_PUPIL[1], LEFT_PUPIL[0]] == 255
    assert pixels[RIGHT_PUPIL[1], RIGHT_PUPIL[0]] == 255
    mouth_x, mouth_y = np.mean(face.landmarks["mouth"], axis=0)
    for x, y in ((mouth_x, mouth_y), BELOW_NOSE, FOREHEAD):
        assert pixels[round(y), round(x)] == 0, (x, y)
    for x, y in face.landmarks["mouth"]:
        assert pixels[round(y), round(x)] == 0
    assert 0 < (pixels > 0).mean() < 0.03


def test_eye_mask_feather_makes_a_soft_edge_and_margin_grows_it(face: Face) -> None:
    hard = np.asarray(eye_mask((512, 512), [face]))
    soft = np.asarray(eye_mask((512, 512), [face], feather=0.2))
    assert set(np.unique(hard)) == {0, 255}
    assert ((soft > 0) & (soft < 255)).sum() > 100  # a ramp, not a step
    assert soft[LEFT_PUPIL[1], LEFT_PUPIL[0]] > 200
    wider = np.asarray(eye_mask((512, 512), [face], margin=0.6))
    assert (wider > 0).sum() > (hard > 0).sum()
    assert not np.asarray(eye_mask((512, 512), [])).any()
    with pytest.raises(ValueError, match="size"):
        eye_mask((0, 10), [face])


def test_a_photo_without_a_face_has_none() -> None:
    assert analyse_image(Image.fromarray(data.coffee())).faces == []
    assert analyse_image(Image.new("RGB", (300, 200), (120, 130, 140))).faces == []


def test_three_faces_largest_first_and_the_cap_keeps_the_largest(astronaut: Image.Image) -> None:
    head = astronaut.crop((130, 20, 330, 220))  # the face with some of the suit and the flag
    sizes = (300, 200, 240)
    canvas = Image.new("RGB", (sum(sizes) + 40, 320), (200, 200, 200))
    x = 0
    for size in sizes:
        canvas.paste(head.resize((size, size)), (x, 10))
        x += size + 20
    found = analyse_image(canvas).faces
    assert len(found) == 3
    widths = [f.box[2] for f in found]
    assert widths == sorted(widths, reverse=True)
    centres_x = [f.box[0] + f.box[2] / 2 for f in found]
    assert centres_x[0] < 300 < centres_x[1] and centres_x[2] < centres_x[1]  # 300, 240, 200
    two = analyse_image(canvas, max_faces=2).faces
    assert [f.box for f in two] == [f.box for f in found[:2]]


def test_a_huge_photo_is_analysed_downscaled_with_full_size_coordinates(
    astronaut: Image.Image, face: Face
) -> None:
    big = astronaut.resize((4000, 4000), Image.Resampling.BILINEAR)
    analysis = analyse_image(big)
    assert (analysis.width, analysis.height) == (4000, 4000)
    [found] = analysis.faces
    scale = 4000 / 512
    for eye in ("left", "right"):
        x, y = _centre(face, eye)
        assert math.dist(_centre(found, eye), (x * scale, y * scale)) < 6 * scale


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16", "LA"])
def test_any_image_mode_is_analysed(astronaut: Image.Image, mode: str) -> None:
    image = astronaut.convert("L").convert("I;16") if mode == "I;16" else astronaut.convert(mode)
    [found] = analyse_image(image).faces
    assert math.dist(_centre(found, "left"), LEFT_PUPIL) < 8


def _closed_eyes(astronaut: Image.Image, face: Face) -> Image.Image:
    """The astronaut with both eyes painted shut: lid skin from under each eye over it, a lash
    line along the lower lid."""
    out = astronaut.copy()
    for eye in ("left_eye", "right_eye"):
        contour = np.array(face.landmarks[eye])
        (x0, y0), (x1, y1) = contour.min(0) - 3, contour.max(0) + 3
        box = (int(x0), int(y0), int(x1), int(y1))
        w, h = box[2] - box[0], box[3] - box[1]
        skin = astronaut.crop((box[0], box[3], box[2], box[3] + int(h * 0.6))).resize((w, h))
        shape = Image.new("L", (w, h), 0)
        ImageDraw.Draw(shape).ellipse((0, 0, w - 1, h - 1), fill=255)
        out.paste(skin, box[:2], shape.filter(ImageFilter.GaussianBlur(2)))
        lower_lid = [(float(x), float(y)) for x, y in contour[:9]]
        ImageDraw.Draw(out).line(lower_lid, fill=(90, 60, 50), width=1)
    return out


def test_closed_eyes_read_under_the_threshold(astronaut: Image.Image, face: Face) -> None:
    [shut] = analyse_image(_closed_eyes(astronaut, face)).faces
    assert max(shut.eyes_open.values()) < EYES_CLOSED_BELOW
    assert eyes_closed(shut)
    wink = Face(face.box, face.score, face.landmarks, {"left": 0.05, "right": 0.3})
    assert not eyes_closed(wink)
    assert not eyes_closed(Face(face.box, face.score))  # nothing measured: not "closed"


def test_json_round_trip_in_the_api_shape(astronaut: Image.Image) -> None:
    analysis = analyse_image(astronaut)
    payload = analysis.to_json()
    face_json = payload["faces"][0]
    assert payload["detector"] == DETECTOR
    assert len(face_json["box"]) == 4
    assert set(face_json["eyes_open"]) == {"left", "right"}
    assert {"left_eye", "right_eye", "nose", "mouth"} <= set(face_json["landmarks"])
    assert all(len(p) == 2 for p in face_json["landmarks"]["left_eye"])
    assert FaceAnalysis.from_json(payload) == analysis
    assert FaceAnalysis.from_json(payload).to_json() == payload
    with pytest.raises(ValueError, match="box"):
        Face.from_json({"score": 1})
    with pytest.raises(ValueError, match="detector"):
        FaceAnalysis.from_json({"faces": []})


def test_without_mediapipe_the_error_says_how_to_install_it() -> None:
    script = (
        "import sys; sys.modules['mediapipe'] = None\n"
        "from PIL import Image\n"
        "from ganstudio.faces import analyse_image, FaceAnalysisUnavailableError\n"
        "try:\n"
        "    analyse_image(Image.new('RGB', (8, 8)))\n"
        "except FaceAnalysisUnavailableError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "make install" in result.stdout and "mediapipe==0.10.14" in result.stdout
    assert issubclass(FaceAnalysisUnavailableError, RuntimeError)
