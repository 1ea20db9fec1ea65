"""What a face analysis finds, as data: faces, their JSON shape, and the constants callers share.

Nothing here imports the detector: pages and services read stored analyses without it.
"""

from dataclasses import dataclass, field
from typing import Any

Point = tuple[float, float]

# Name, version and revision of what finds faces. Analyses are cached by (image content,
# DETECTOR): bump the revision ("r2") whenever the code below changes what it outputs.
DETECTOR = "mediapipe-face-mesh 0.10.14 r1"
# Eyelid gap over eye width (ganstudio/faces/detect.py: _openness). Measured with this detector:
# the astronaut's open eyes read 0.34 (left) and 0.34 (right); the same photo with both eyes
# painted shut (tests/faces/test_faces.py: _closed_eyes) reads 0.06 and 0.08. 0.12 leaves room
# above shut eyes, and keeps squints and smiles (about 0.15–0.25 on this measure) open.
EYES_CLOSED_BELOW = 0.12
MAX_FACES = 10


class FaceAnalysisUnavailableError(RuntimeError):
    """The face detector is not installed or cannot start here; the message says what to do."""


def _xy(value: Any, what: str) -> Point:
    try:
        x, y = value
        return (float(x), float(y))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: expected a point [x, y], got {value!r}") from error


def _round_point(point: Point) -> list[float]:
    return [round(point[0], 1), round(point[1], 1)]


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
        """The API's shape: pixels rounded to 0.1, score and openness to 0.001."""
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 3),
            "landmarks": {
                name: [_round_point(p) for p in points] for name, points in self.landmarks.items()
            },
            "eyes_open": {eye: round(value, 3) for eye, value in self.eyes_open.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Face":
        """Read what to_json wrote; a malformed face raises ValueError saying which part."""
        if not isinstance(data, dict) or "box" not in data:
            raise ValueError(f"a face needs at least a 'box' [x, y, w, h], got {data!r}")
        box = data["box"]
        if not isinstance(box, list | tuple) or len(box) != 4:
            raise ValueError(f"a face's 'box' must be [x, y, w, h], got {box!r}")
        landmarks = data.get("landmarks") or {}
        if not isinstance(landmarks, dict):
            raise ValueError(f"a face's 'landmarks' must map names to point lists: {landmarks!r}")
        return cls(
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            score=float(data.get("score", 0.0)),
            landmarks={
                str(name): [_xy(p, f"landmarks.{name}") for p in points]
                for name, points in landmarks.items()
            },
            eyes_open={str(k): float(v) for k, v in (data.get("eyes_open") or {}).items()},
        )


@dataclass(frozen=True)
class FaceAnalysis:
    detector: str  # name, version and revision of what found these faces
    width: int
    height: int
    faces: list[Face]

    def to_json(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "width": self.width,
            "height": self.height,
            "faces": [face.to_json() for face in self.faces],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FaceAnalysis":
        try:
            return cls(
                detector=str(data["detector"]),
                width=int(data["width"]),
                height=int(data["height"]),
                faces=[Face.from_json(face) for face in data["faces"]],
            )
        except (KeyError, TypeError) as error:
            raise ValueError(
                "a face analysis needs 'detector', 'width', 'height' and 'faces' "
                f"(as FaceAnalysis.to_json writes it): {error!r}"
            ) from error
