"""Target regions of an analysis and the share of a heat map inside one. Pure numpy.

A region names the output pixels an attention map explains, in the photo's displayed pixels:
`eyes` (the eye mask made from the face landmarks), `face` (the largest face's box), `image`
(everything) or `box` (a box [x, y, w, h] drawn in the viewer). The worker draws it at the
photo's size and maps it into the network's input exactly as the photo was (fit or face crop).
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

EYES, FACE, IMAGE, BOX = "eyes", "face", "image", "box"
KINDS = (EYES, FACE, IMAGE, BOX)
NEEDS_FACE = (EYES, FACE)
NO_FACE = "no face found in this photo; use region image or box"
WORDS = {EYES: "the eyes", FACE: "the face", IMAGE: "the whole image", BOX: "the box"}
# A face filter's network only ever sees a face crop: its "whole image" is the whole crop.
CROP_WORDS = {**WORDS, IMAGE: "the whole crop"}


def words_for(kind: str, pipeline: str) -> str:
    """How pages name a region of a filter's output ("the whole crop" on the face pipeline)."""
    return (CROP_WORDS if pipeline == "face" else WORDS)[kind]


class RegionError(ValueError):
    """The region cannot be used; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class Region:
    kind: str
    box: tuple[float, float, float, float] | None = None  # x, y, w, h in photo pixels

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.box is not None:
            data["box"] = [round(v, 2) for v in self.box]
        return data

    @property
    def words(self) -> str:
        return WORDS[self.kind]


def parse_region(value: object) -> Region:
    """Read a region: "eyes" / "face" / "image", {"box": [x, y, w, h]}, or a stored one."""
    if isinstance(value, str):
        if value in (EYES, FACE, IMAGE):
            return Region(value)
        raise RegionError(
            f'Unknown region \'{value[:40]}\'; use "eyes", "face", "image" or '
            '{"box": [x, y, w, h]} in the photo\'s pixels.'
        )
    if isinstance(value, dict):
        kind = value.get("kind", BOX if "box" in value else None)
        if kind in (EYES, FACE, IMAGE):
            return Region(str(kind))
        if kind == BOX:
            return Region(BOX, _box(value.get("box")))
    raise RegionError(
        'A region is "eyes", "face", "image" or {"box": [x, y, w, h]} (the photo\'s pixels).'
    )


def _box(value: object) -> tuple[float, float, float, float]:
    what = "A box region is [x, y, w, h]: four numbers in the photo's pixels"
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise RegionError(f"{what}; got {str(value)[:60]}.")
    try:
        x, y, w, h = (float(v) for v in value)
    except (TypeError, ValueError):
        raise RegionError(f"{what}; got {str(value)[:60]}.") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise RegionError(f"{what}, all finite.")
    if w <= 0 or h <= 0:
        raise RegionError(
            f"The box [{x:g}, {y:g}, {w:g}, {h:g}] is empty (width and height must be above "
            "0); draw a box over the part of the photo to explain."
        )
    return (x, y, w, h)


def check_box(region: Region, *, width: int, height: int, name: str = "the photo") -> None:
    """Refuse a box that does not overlap a `width`×`height` photo (RegionError)."""
    if region.box is None:
        return
    x, y, w, h = region.box
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise RegionError(
            f"The box [{x:g}, {y:g}, {w:g}, {h:g}] lies outside {name} ({width}×{height} "
            "pixels); give a box inside the photo, in its displayed pixels."
        )


def box_mask(size: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """A (height, width) float32 mask: the box's area coverage of each pixel (0..1)."""
    width, height = size
    x, y, w, h = box

    def coverage(start: float, end: float, n: int) -> np.ndarray:
        edges = np.arange(n, dtype=np.float64)
        return np.clip(np.minimum(edges + 1, end) - np.maximum(edges, start), 0, 1)

    return np.outer(coverage(y, y + h, height), coverage(x, x + w, width)).astype(np.float32)


def full_mask(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.ones((height, width), dtype=np.float32)


def region_share(heatmap: np.ndarray, region: np.ndarray) -> float | None:
    """The heat map's mass inside the region over its whole mass, in [0, 1].

    `region` weighs each pixel 0..1 (soft edges count in part). None when the map has no mass
    (the explained output does not depend on the input).
    """
    if heatmap.shape != region.shape:
        raise ValueError(f"heat map {heatmap.shape} and region {region.shape} differ in size")
    heat = np.clip(np.nan_to_num(heatmap.astype(np.float64), nan=0.0), 0, None)
    total = float(heat.sum())
    if total <= 0:
        return None
    inside = float((heat * np.clip(region, 0, 1)).sum())
    return min(1.0, max(0.0, inside / total))


def outline(region: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """The region's edge pixels: inside, with a 4-neighbour outside (a boolean array)."""
    inside = region >= threshold
    padded = np.pad(inside, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & inside
    return inside & ~interior
