"""Faces in photos: detection with landmarks, eye openness, and eye masks from landmarks.

The interface the rest of GAN Studio uses (services, the worker, the pages). Torch-free. The
detector itself is imported lazily: a process that never analyses a photo never loads it.

Coordinates are in the pixels of the image given (callers pass the EXIF-transposed image, i.e.
the pixels the user sees), x to the right, y down. "left"/"right" are the person's own eyes.

Where things live: the data (Face, FaceAnalysis, JSON) in face.py, the detector in detect.py,
eye masks in mask.py.
"""

from PIL import Image

from ganstudio.faces.face import (
    DETECTOR,
    EYES_CLOSED_BELOW,
    MAX_FACES,
    Face,
    FaceAnalysis,
    FaceAnalysisUnavailableError,
    Point,
)
from ganstudio.faces.mask import eye_mask

__all__ = [
    "DETECTOR",
    "EYES_CLOSED_BELOW",
    "MAX_FACES",
    "Face",
    "FaceAnalysis",
    "FaceAnalysisUnavailableError",
    "Point",
    "analyse_image",
    "eye_mask",
    "eyes_closed",
]


def analyse_image(image: Image.Image, *, max_faces: int = MAX_FACES) -> FaceAnalysis:
    """Find faces (the largest first, at most `max_faces`); huge images are analysed downscaled
    with coordinates given in `image`'s own pixels.

    Raises FaceAnalysisUnavailableError (saying how to install it) when mediapipe is missing.
    """
    from ganstudio.faces import detect  # mediapipe loads here, on first use only

    return detect.analyse_image(image, max_faces=max_faces)


def eyes_closed(face: Face) -> bool:
    """Both eyes measured and both under EYES_CLOSED_BELOW (a wink is not "eyes closed")."""
    values = [face.eyes_open.get("left"), face.eyes_open.get("right")]
    return all(v is not None and v < EYES_CLOSED_BELOW for v in values)
