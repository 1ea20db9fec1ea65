"""Face crops for the face pipeline: an eyes-level square around each face, cut out, pasted back.

Torch-free and pure. Coordinates are continuous image coordinates (pixel k spans [k, k + 1)),
as the landmarks are; Pillow's affine transform samples at output pixel centres in the same
convention, so a cut and its paste line up without half-pixel drift.
"""

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ganstudio.faces.face import Face, Point

# The whole head (hair and chin) at the default: the detector's box spans brows to chin.
DEFAULT_MARGIN = 1.8
# The soft edge of the paste, as a fraction of the crop side (0: a hard edge).
DEFAULT_FEATHER = 0.08
# The crop's centre sits this fraction of the face box's side below the eyes' midpoint: the eyes
# are in the upper part of a face, so centring on them would cut the chin and add sky.
BELOW_EYES = 0.15


@dataclass(frozen=True)
class Crop:
    """A square of side `side` centred at `centre`, turned by `angle` radians (y down, clockwise
    on screen) so that its top edge runs parallel to the eye line."""

    centre: Point
    side: float
    angle: float

    def _axes(self) -> tuple[float, float]:
        return math.cos(self.angle), math.sin(self.angle)

    def corners(self) -> list[Point]:
        cos, sin = self._axes()
        half = self.side / 2
        cx, cy = self.centre
        return [
            (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
            for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))
        ]

    def to_image(self, size: int) -> tuple[float, ...]:
        """Pillow's AFFINE data mapping cut pixels (size×size) to image coordinates."""
        cos, sin = self._axes()
        scale, half = self.side / size, self.side / 2
        cx, cy = self.centre
        return (
            scale * cos,
            -scale * sin,
            cx - half * cos + half * sin,
            scale * sin,
            scale * cos,
            cy - half * sin - half * cos,
        )

    def from_image(self, size: int, origin: tuple[int, int] = (0, 0)) -> tuple[float, ...]:
        """Pillow's AFFINE data mapping image pixels (offset by `origin`) to cut pixels."""
        cos, sin = self._axes()
        scale, half = self.side / size, self.side / 2
        cx, cy = self.centre[0] - origin[0], self.centre[1] - origin[1]
        return (
            cos / scale,
            sin / scale,
            (half - cx * cos - cy * sin) / scale,
            -sin / scale,
            cos / scale,
            (half + cx * sin - cy * cos) / scale,
        )


def _centre(points: list[Point], what: str) -> Point:
    if not points:
        raise ValueError(f"the face has no '{what}' landmark: a face crop needs both eye centres")
    return (
        sum(p[0] for p in points) / len(points),
        sum(p[1] for p in points) / len(points),
    )


def face_crop(face: Face, *, margin: float = DEFAULT_MARGIN, align: bool = True) -> Crop:
    """The square crop of `face`: eyes level (unless not `align`), side `margin` × the box's
    larger side, centred a little below the midpoint of the eyes."""
    if margin <= 0:
        raise ValueError(f"a face crop's margin must be above 0 (1.8 is the whole head): {margin}")
    # The person's right eye is on the image's left in an upright face: the angle from it to the
    # left eye is the head's roll, and rotating by it brings even an upside-down face upright.
    right = _centre(face.landmarks.get("right_eye_centre") or [], "right_eye_centre")
    left = _centre(face.landmarks.get("left_eye_centre") or [], "left_eye_centre")
    angle = math.atan2(left[1] - right[1], left[0] - right[0]) if align else 0.0
    box_side = max(face.box[2], face.box[3])
    down = BELOW_EYES * box_side
    mid = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
    centre = (mid[0] - down * math.sin(angle), mid[1] + down * math.cos(angle))
    return Crop(centre=centre, side=max(1.0, margin * box_side), angle=angle)


def cut(image: Image.Image, crop: Crop, size: int) -> Image.Image:
    """The crop resampled to `size`×`size` (black, or 0 for masks, beyond the image's edge)."""
    fill = 0 if image.mode in ("L", "1", "I", "F") else (0,) * len(image.getbands())
    return image.transform(
        (size, size),
        Image.Transform.AFFINE,
        crop.to_image(size),
        resample=Image.Resampling.BICUBIC,
        fillcolor=fill,
    )


def feather_mask(size: int, feather: float) -> np.ndarray:
    """A size×size float mask, 1 inside and ramping to 0 at the edge over `feather` × size."""
    width = feather * size
    edge = np.minimum(np.arange(size) + 0.5, size - np.arange(size) - 0.5)
    ramp = np.ones(size) if width <= 0 else np.clip(edge / width, 0.0, 1.0)
    return np.outer(ramp, ramp)


def paste(
    base: Image.Image, output: Image.Image, crop: Crop, *, feather: float = DEFAULT_FEATHER
) -> Image.Image:
    """A copy of `base` with `output` (the network's result on `cut(base, crop, n)`) warped back
    into place and blended through a soft-edged square. Pixels outside the crop are copied from
    `base` untouched (the blend never touches them), whatever the resampling does inside."""
    if output.width != output.height:
        raise ValueError(f"a face crop's output must be square, got {output.width}×{output.height}")
    size = output.width
    result = np.array(base.convert("RGB"))
    xs, ys = zip(*crop.corners(), strict=True)
    left, top = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    right, bottom = min(base.width, math.ceil(max(xs))), min(base.height, math.ceil(max(ys)))
    if right <= left or bottom <= top:
        return Image.fromarray(result)  # the crop lies outside the image
    region = (right - left, bottom - top)
    # Only the crop's bounding box is warped and blended: a big photo costs what a small one does.
    affine = crop.from_image(size, (left, top))
    warped = output.convert("RGB").transform(
        region, Image.Transform.AFFINE, affine, resample=Image.Resampling.BICUBIC
    )
    soft = Image.fromarray(np.round(feather_mask(size, feather) * 255).astype(np.uint8), "L")
    alpha = (
        np.asarray(
            soft.transform(
                region, Image.Transform.AFFINE, affine, resample=Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )[..., None]
        / 255.0
    )
    old = result[top:bottom, left:right].astype(np.float32)
    new = np.asarray(warped, dtype=np.float32)
    blended = np.round(old + (new - old) * alpha).astype(np.uint8)
    inside = alpha[..., 0] > 0
    # Copy only where the mask is on: elsewhere the base's bytes stay as they were.
    result[top:bottom, left:right][inside] = blended[inside]
    return Image.fromarray(result)
