"""Face analysis with mediapipe: its full-range face detector finds faces, its face mesh (478
points with the irises) places the landmarks on a crop around each one.

Why two stages: the mesh's own detector is the short-range model, made for faces filling a
selfie; on a group photo or a face far from the camera it misses small faces. The full-range
detector finds them on a copy at most DETECT_LONG_SIDE pixels long, and the mesh then runs on a
crop of the full-resolution image, so a face in a 40-megapixel photo gets landmarks as precise
as one in a small photo.
"""

import os
import threading
import warnings
from typing import Any

import numpy as np
from PIL import Image

from ganstudio.faces.face import DETECTOR, Face, FaceAnalysis, FaceAnalysisUnavailableError, Point

# Images longer than this are downscaled for the detector (it sees 192×192 anyway; this bounds
# the cost of converting and resizing a huge photo), coordinates mapped back to full size.
DETECT_LONG_SIDE = 1600
# The mesh sees each face on a square crop this many times the detector's box (its own detector
# needs the whole head in view), resized to at most MESH_CROP_SIDE pixels (its input is 256²).
CROP_SCALE = 2.0
MESH_CROP_SIDE = 512
MIN_DETECTION_CONFIDENCE = 0.5

# Landmark indices of mediapipe's canonical face mesh (FACEMESH_* connection sets in
# mediapipe/python/solutions/face_mesh_connections.py), ordered around each contour here so a
# polygon can be filled. "Left" is the person's left: on a frontal photo, the eye on the image's
# right (checked on the astronaut).
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_IRIS_CENTRE = 473
RIGHT_IRIS_CENTRE = 468
# The nose ridge from between the eyes to the tip, then the base of the nose wing to wing.
NOSE = [168, 6, 197, 195, 5, 4, 1, 98, 2, 327]
MOUTH = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
# Openness: (eye corner, corner), then (upper lid, lower lid) pairs across the eye.
LEFT_LIDS = ((362, 263), ((385, 380), (386, 374), (387, 373)))
RIGHT_LIDS = ((33, 133), ((160, 144), (159, 145), (158, 153)))

_local = threading.local()  # one detector and mesh per thread: mediapipe graphs are not thread-safe
_import_lock = threading.Lock()


def _solutions() -> tuple[Any, Any]:
    """Import mediapipe's face detection and face mesh, or say how to install them."""
    with _import_lock:
        # mediapipe logs through glog to stderr on every graph start; warnings and errors only.
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            from mediapipe.python.solutions import face_detection, face_mesh
        except ImportError as error:
            raise FaceAnalysisUnavailableError(
                f"face analysis needs mediapipe 0.10.14, which cannot be imported here ({error}). "
                "Run `make install`, or `pip install --no-deps mediapipe==0.10.14` in GAN "
                "Studio's environment (its other needs are in GAN Studio's dependencies)."
            ) from error
        # protobuf 4.25 warns about an API mediapipe 0.10.14 calls on every image: noise only.
        warnings.filterwarnings(
            "ignore", message="SymbolDatabase.GetPrototype", category=UserWarning
        )
    return face_detection, face_mesh


def _models() -> tuple[Any, Any]:
    """This thread's detector and mesh, made on first use (making them is the cost) and kept."""
    models = getattr(_local, "models", None)
    if models is None:
        face_detection, face_mesh = _solutions()
        try:
            detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
            )
            # Two faces per crop: a neighbour's face can be in the crop; the one nearest its
            # centre is kept.
            mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=2, refine_landmarks=True
            )
        except Exception as error:  # mediapipe raises RuntimeError and others from its graph
            raise FaceAnalysisUnavailableError(
                f"mediapipe is installed but its face models did not start ({error}); "
                "reinstall it with `pip install --force-reinstall --no-deps mediapipe==0.10.14`."
            ) from error
        models = _local.models = (detector, mesh)
    return models


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of any Pillow image: grayscale, 16-bit, float, CMYK, palette, alpha."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # Pillow clips these to 0–255 when converting; stretch the actual range instead.
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        image = Image.fromarray(scaled.astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels become white, as a browser shows them on a white page.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


Lids = tuple[tuple[int, int], tuple[tuple[int, int], ...]]


def _openness(points: np.ndarray, lids: Lids) -> float:
    (corner_a, corner_b), pairs = lids
    width = float(np.linalg.norm(points[corner_a] - points[corner_b]))
    if width <= 0:
        return 0.0
    gap = np.mean([np.linalg.norm(points[up] - points[down]) for up, down in pairs])
    return float(gap) / width


def _pts(points: np.ndarray, indices: list[int]) -> list[Point]:
    return [(round(float(points[i, 0]), 1), round(float(points[i, 1]), 1)) for i in indices]


def _face_from_mesh(points: np.ndarray, score: float) -> Face:
    low, high = points.min(axis=0), points.max(axis=0)
    return Face(
        box=(
            round(float(low[0]), 1),
            round(float(low[1]), 1),
            round(float(high[0] - low[0]), 1),
            round(float(high[1] - low[1]), 1),
        ),
        score=round(score, 3),
        landmarks={
            "left_eye": _pts(points, LEFT_EYE),
            "right_eye": _pts(points, RIGHT_EYE),
            "left_eye_centre": _pts(points, [LEFT_IRIS_CENTRE]),
            "right_eye_centre": _pts(points, [RIGHT_IRIS_CENTRE]),
            "nose": _pts(points, NOSE),
            "mouth": _pts(points, MOUTH),
        },
        eyes_open={
            "left": round(_openness(points, LEFT_LIDS), 3),
            "right": round(_openness(points, RIGHT_LIDS), 3),
        },
    )


def _mesh_on_crop(
    mesh: Any, rgb: Image.Image, box: tuple[float, float, float, float]
) -> np.ndarray | None:
    """The 478 landmarks (full-size pixels) of the face in `box`, from a square crop around it."""
    x, y, w, h = box
    side = CROP_SCALE * max(w, h)
    left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
    # Pillow pads a crop reaching past the image with black: the face keeps its place in it.
    crop = rgb.crop((round(left), round(top), round(left + side), round(top + side)))
    side_px = crop.width
    if side_px > MESH_CROP_SIDE:
        crop = crop.resize((MESH_CROP_SIDE, MESH_CROP_SIDE), Image.Resampling.BILINEAR)
    result = mesh.process(np.asarray(crop))
    if not result.multi_face_landmarks:
        return None  # a face without usable landmarks: left out, not guessed
    candidates = [
        np.array([(p.x, p.y) for p in found.landmark], dtype=np.float64)
        for found in result.multi_face_landmarks
    ]
    nearest = min(candidates, key=lambda c: float(np.linalg.norm(c.mean(axis=0) - 0.5)))
    return nearest * side_px + np.array([round(left), round(top)], dtype=np.float64)


def _inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    x, y, w, h = box
    return bool(x <= point[0] <= x + w and y <= point[1] <= y + h)


def analyse_image(image: Image.Image, *, max_faces: int) -> FaceAnalysis:
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    detector, mesh = _models()
    rgb = to_rgb(image)
    width, height = rgb.size
    scale = min(1.0, DETECT_LONG_SIDE / max(width, height))
    small = rgb
    if scale < 1.0:
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = rgb.resize(small_size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    found = detector.process(np.asarray(small)).detections or []
    boxes = []
    for detection in found:
        rel = detection.location_data.relative_bounding_box
        box = (rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height)
        boxes.append((box[2] * box[3], box, float(detection.score[0])))
    boxes.sort(key=lambda item: -item[0])  # largest first: the cap keeps the largest faces
    faces: list[Face] = []
    for _, box, score in boxes:
        points = _mesh_on_crop(mesh, rgb, box)
        if points is None or any(_inside(points[LEFT_IRIS_CENTRE], f.box) for f in faces):
            continue  # no landmarks, or a neighbour's face the mesh already placed
        faces.append(_face_from_mesh(points, score))
        if len(faces) == max_faces:
            break
    faces.sort(key=lambda face: -face.box[2] * face.box[3])
    return FaceAnalysis(detector=DETECTOR, width=width, height=height, faces=faces)
