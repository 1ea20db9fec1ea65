"""Regions and their share of a heat map (pure numpy), and the images an analysis shows."""

import numpy as np
import pytest
from PIL import Image

from ganstudio.analysis import images
from ganstudio.analysis.regions import (
    RegionError,
    box_mask,
    check_box,
    full_mask,
    parse_region,
    region_share,
)


def test_share_is_a_fraction_of_the_mass_and_changes_with_the_region() -> None:
    rng = np.random.default_rng(0)
    heat = rng.random((40, 60)).astype(np.float32)
    heat[:20, :30] += 5  # most of the mass in the top-left quarter
    whole = region_share(heat, full_mask((60, 40)))
    left = region_share(heat, box_mask((60, 40), (0, 0, 30, 20)))
    right = region_share(heat, box_mask((60, 40), (30, 20, 30, 20)))
    assert whole == pytest.approx(1.0)
    assert left is not None and right is not None
    assert 0 <= right < left <= 1 and left > 0.7 and right < 0.1
    # Halves of one box add up to the box; fractional pixels count in part.
    a = region_share(heat, box_mask((60, 40), (0, 0, 15.5, 20)))
    b = region_share(heat, box_mask((60, 40), (15.5, 0, 14.5, 20)))
    assert a is not None and b is not None and a + b == pytest.approx(left, abs=1e-6)
    assert region_share(np.zeros((40, 60)), full_mask((60, 40))) is None  # no mass: no share


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"box": [0, 0, 0, 5]}, "empty"),
        ({"box": [0, 0, 5]}, "four numbers"),
        ({"box": [0, 0, "x", 5]}, "four numbers"),
        ({"box": [0, 0, float("inf"), 5]}, "finite"),
        ("ears", "Unknown region"),
        (42, "A region is"),
    ],
)
def test_bad_regions_are_refused_with_a_sentence(value: object, words: str) -> None:
    with pytest.raises(RegionError, match=words):
        parse_region(value)


def test_a_box_must_overlap_the_photo() -> None:
    inside = parse_region({"box": [90, 40, 20, 20]})  # partly outside: the rest counts
    check_box(inside, width=100, height=50)
    with pytest.raises(RegionError, match="outside"):
        check_box(parse_region({"box": [100, 0, 5, 5]}), width=100, height=50)
    assert parse_region("eyes").to_json() == {"kind": "eyes"}
    assert parse_region({"kind": "box", "box": [1, 2, 3, 4]}).box == (1, 2, 3, 4)


def test_the_overlay_outlines_the_region_over_the_input() -> None:
    image = Image.new("RGB", (32, 32), (128, 128, 128))
    heat = np.zeros((32, 32), np.float32)
    heat[4:8, 4:8] = 1
    region = box_mask((32, 32), (16, 16, 8, 8))
    overlay = np.asarray(images.heat_overlay(image, heat, region))
    factor = images.SHOWN_SIDE // 32
    assert overlay.shape == (32 * factor, 32 * factor, 3)
    assert (overlay == images.OUTLINE).all(axis=2).any()  # the outline is drawn
    hot = overlay[6 * factor, 6 * factor].astype(int)
    cold = overlay[28 * factor, 2 * factor].astype(int)
    assert hot.sum() > cold.sum()  # the map is bright where its mass is
    grid = images.feature_grid([(7, np.full((4, 4), 200, np.uint8))])
    assert grid.size[0] > images.TILE
