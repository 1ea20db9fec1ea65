"""Eye masks from landmarks: channel 4 of the 4-channel versions."""

import math
from collections.abc import Sequence

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ganstudio.faces.face import Face, Point

EYES = ("left_eye", "right_eye")


def _eye_width(contour: Sequence[Point]) -> float:
    # Corner to corner is the longest chord of the contour, whatever the head's tilt.
    return max(math.dist(a, b) for a in contour for b in contour)


def eye_mask(
    size: tuple[int, int], faces: Sequence[Face], *, margin: float = 0.35, feather: float = 0.0
) -> Image.Image:
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"an eye mask needs a size of at least 1×1 pixels, got {size}")
    if margin < 0 or feather < 0:
        raise ValueError(
            f"margin and feather are fractions of the eye width, 0 or more: {margin}, {feather}"
        )
    mask = Image.new("L", size, 0)
    for face in faces:
        for eye in EYES:
            contour = face.landmarks.get(eye) or []
            if len(contour) < 3:
                continue  # no usable contour for this eye: nothing to fill
            eye_width = _eye_width(contour)
            grow = margin * eye_width
            soft = feather * eye_width
            # Each eye is drawn on its own patch, blurred by its own feather (eyes differ in
            # size), and merged by maximum so overlapping eyes never add up past 255.
            pad = grow + 3 * soft + 2
            xs, ys = [p[0] for p in contour], [p[1] for p in contour]
            left, top = max(0, math.floor(min(xs) - pad)), max(0, math.floor(min(ys) - pad))
            right = min(width, math.ceil(max(xs) + pad))
            bottom = min(height, math.ceil(max(ys) + pad))
            if right <= left or bottom <= top:
                continue  # the eye lies outside the image
            patch = Image.new("L", (right - left, bottom - top), 0)
            draw = ImageDraw.Draw(patch)
            local = [(x - left, y - top) for x, y in contour]
            draw.polygon(local, fill=255)
            if grow > 0:
                # The contour dilated by a disc of radius `grow`: the polygon, its edges drawn
                # 2×grow thick, and a disc at each corner (round joins, the same on any tilt).
                draw.line([*local, local[0]], fill=255, width=max(1, round(2 * grow)))
                for x, y in local:
                    draw.ellipse((x - grow, y - grow, x + grow, y + grow), fill=255)
            if soft > 0:
                patch = patch.filter(ImageFilter.GaussianBlur(soft))
            box = (left, top, right, bottom)
            mask.paste(ImageChops.lighter(mask.crop(box), patch), box)
    return mask
