"""Face crops: the cut levels the eyes; a paste leaves every pixel outside the crop as it was."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data

from ganstudio.faces import Face
from ganstudio.faces.crops import Crop, cut, face_crop, paste


def _face(right: tuple[float, float], left: tuple[float, float], box_side: float) -> Face:
    """A face with only what a crop reads: the box and both eye centres."""
    x = min(right[0], left[0]) - box_side / 4
    y = min(right[1], left[1]) - box_side / 3
    return Face(
        box=(x, y, box_side, box_side),
        score=1.0,
        landmarks={"right_eye_centre": [right], "left_eye_centre": [left]},
    )


def _dot_centre(image: Image.Image, colour: int) -> tuple[float, float]:
    """The centroid of the pixels of one channel that light up (a drawn dot)."""
    channel = np.asarray(image)[..., colour].astype(float)
    others = np.asarray(image).sum(axis=2) - channel
    ys, xs = np.nonzero((channel > 128) & (others < 128))
    assert len(xs) > 0, "the dot was not in the cut"
    return float(xs.mean()), float(ys.mean())


@pytest.mark.parametrize("tilt_degrees", [-35, 20, 180])
def test_the_cut_levels_the_eyes(tilt_degrees: float) -> None:
    # Two coloured dots as eyes (the person's right on the image's left when upright), turned by
    # `tilt_degrees` about a point: after the cut they sit on one row, right eye on the left.
    image = Image.new("RGB", (400, 300), "black")
    draw = ImageDraw.Draw(image)
    turn = math.radians(tilt_degrees)
    centre, half = (200.0, 150.0), 30.0
    right = (centre[0] - half * math.cos(turn), centre[1] - half * math.sin(turn))
    left = (centre[0] + half * math.cos(turn), centre[1] + half * math.sin(turn))
    for (x, y), fill in ((right, (255, 0, 0)), (left, (0, 255, 0))):
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=fill)
    crop = face_crop(_face(right, left, 100), margin=1.8)
    assert crop.side == pytest.approx(180)
    out = cut(image, crop, 128)
    assert out.size == (128, 128)
    (rx, ry), (lx, ly) = _dot_centre(out, 0), _dot_centre(out, 1)
    assert abs(ry - ly) < 1.0, (ry, ly)
    assert rx < lx
    assert 30 < ry < 64  # the eyes sit above the middle: the crop is centred below them
    # Without alignment the square stays upright and the eyes keep their tilt.
    unaligned = face_crop(_face(right, left, 100), align=False)
    assert unaligned.angle == 0


def test_paste_of_an_untouched_cut_changes_nothing_outside_and_little_inside() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (700, 900, 3), dtype=np.uint8)
    canvas = Image.fromarray(noise)  # every outside pixel distinct: a stray write shows
    canvas.paste(Image.fromarray(data.astronaut()), (250, 120))
    face = _face((250 + 202, 120 + 101), (250 + 245, 120 + 102), 110)
    crop = face_crop(face)
    identity = cut(canvas, crop, 256)  # the "network" returns its input
    pasted = paste(canvas, identity, crop, feather=0.08)
    before, after = np.asarray(canvas), np.asarray(pasted)
    inside = _inside(crop, canvas.size)
    assert inside.sum() > 150 * 150
    assert np.array_equal(before[~inside], after[~inside])
    # Inside, two resamplings of a smooth photo: nearly the same.
    core = _inside(Crop(crop.centre, crop.side * 0.8, crop.angle), canvas.size)
    difference = np.abs(before[core].astype(int) - after[core].astype(int))
    assert difference.mean() < 4, difference.mean()


def test_paste_blends_the_output_inside_the_crop_only() -> None:
    canvas = Image.fromarray(np.random.default_rng(2).integers(0, 256, (300, 400, 3), np.uint8))
    crop = Crop(centre=(200.0, 150.0), side=120.0, angle=math.radians(25))
    pasted = np.asarray(paste(canvas, Image.new("RGB", (64, 64), "white"), crop, feather=0.1))
    inside = _inside(crop, canvas.size)
    assert np.array_equal(np.asarray(canvas)[~inside], pasted[~inside])
    assert (pasted[150, 200] == 255).all()  # the centre is the output's, fully
    # A crop that hangs over the edge pastes its part and leaves the rest.
    edge = Crop(centre=(5.0, 5.0), side=60.0, angle=0.0)
    assert paste(canvas, Image.new("RGB", (32, 32), "white"), edge).getpixel((2, 2)) == (
        255,
        255,
        255,
    )


def test_a_face_without_eye_centres_says_so() -> None:
    face = Face(box=(0, 0, 10, 10), score=1.0, landmarks={})
    with pytest.raises(ValueError, match="eye centres"):
        face_crop(face)


def _inside(crop: Crop, size: tuple[int, int]) -> np.ndarray:
    """Pixels whose square (not just centre) touches the crop: a conservative "inside"."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    cos, sin = math.cos(crop.angle), math.sin(crop.angle)
    dx, dy = xs - crop.centre[0], ys - crop.centre[1]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    reach = crop.side / 2 + 2  # + 2 px: bilinear spread at the square's edge
    return (np.abs(u) <= reach) & (np.abs(v) <= reach)
