"""Faces in photos: detection with landmarks, eye openness, and eye masks from landmarks.

The interface the rest of GAN Studio uses (services, the worker, the pages). Torch-free. The
detector itself is imported lazily: a process that never analyses a photo never loads it.

Coordinates are in the pixels of the image given (callers pass the EXIF-transposed image, i.e.
the pixels the user sees), x to the right, y down. "left"/"right" are the person's own eyes.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

Point = tuple[float, float]


class FaceAnalysisUnavailableError(RuntimeError):
    """The face detector is not installed or cannot start here; the message says what to do."""


@dataclass(frozen=True)
class Face:
    """One face: box [x, y, w, h], detector confidence, landmark groups and eye openness."""

    box: tuple[float, float, float, float]
    score: float
    # At least: left_eye, right_eye (closed contours), left_eye_centre, right_eye_centre (one
    # point each), nose, mouth (contours or key points).
    landmarks: dict[str, list[Point]] = field(default_factory=dict)
    # Openness per eye: eyelid gap over eye width (about 0.25+ open, under EYES_CLOSED_BELOW shut).
    eyes_open: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Face":
        raise NotImplementedError


@dataclass(frozen=True)
class FaceAnalysis:
    detector: str  # name, version and revision of what found these faces
    width: int
    height: int
    faces: list[Face]

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FaceAnalysis":
        raise NotImplementedError


DETECTOR = "unset"  # e.g. "mediapipe-face-mesh 0.10.14 r1": stored with every analysis
EYES_CLOSED_BELOW = 0.12
MAX_FACES = 10


def analyse_image(image: Image.Image, *, max_faces: int = MAX_FACES) -> FaceAnalysis:
    """Find faces (the largest first, at most `max_faces`); huge images are analysed downscaled
    with coordinates given in `image`'s own pixels."""
    raise NotImplementedError


def eyes_closed(face: Face) -> bool:
    raise NotImplementedError


def eye_mask(
    size: tuple[int, int], faces: Sequence[Face], *, margin: float = 0.35, feather: float = 0.0
) -> Image.Image:
    """Return an 8-bit mask ("L", `size`) filling each eye's contour grown by `margin` × the eye's
    width, with a soft edge of `feather` × the eye's width; 0 elsewhere."""
    raise NotImplementedError
