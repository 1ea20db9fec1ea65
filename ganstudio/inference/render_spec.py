"""What decides a render's pixels, without torch: pipeline settings, the render key, the input.

The worker prepares each input here (fit to the filter's size, the mask as channel 4) and sends
the pixels to an executor, which runs the tensor side (`ganstudio.inference.pipeline`). Services
import this module, so the web process needs no torch to queue renders.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from PIL import Image

from ganstudio.faces import DETECTOR, MAX_FACES
from ganstudio.faces.crops import DEFAULT_FEATHER, DEFAULT_MARGIN
from ganstudio.vocabulary import Pipeline

# Bump when the output for the same input changes: old renders then no longer match.
PIPELINE_REVISION = 1

# Versions with this many input channels take RGB + a mask (the eye mask as channel 4).
MASK_INPUT_CHANNELS = 4
MISSING_MASK = (
    "This version takes RGB + a mask (4 input channels), and this image has no mask. "
    "Attach a mask on the sample's page, then make the comparison again "
    "(web test photos have no mask: compare on a sample that has one)."
)
# A done render's note when the face pipeline finds no face: its output is the input, unchanged
# (not a failure). The arena skips such renders: there is nothing to choose between two of them.
NO_FACE = "no face found"


class RenderError(RuntimeError):
    """The render failed; the message says why (shown on the cell)."""


MaskT = TypeVar("MaskT")


def mask_for(*, input_channels: int, mask: MaskT | None) -> MaskT | None:
    """The one mask rule: return the mask a version sees (by sha256, or decoded).

    A version with 4 input channels takes the sample's mask, and without one it cannot render
    (RenderError, MISSING_MASK); any other version ignores masks, so its render key and pixels
    do not change when a mask is attached.
    """
    if input_channels != MASK_INPUT_CHANNELS:
        return None
    if mask is None:
        raise RenderError(MISSING_MASK)
    return mask


FACE_CHOICES = ("all", "largest")

# The precisions a render may run in (pipeline.PRECISIONS): fp32, or bf16/fp16 under autocast,
# which a filter opts into and a version only follows once measured (services/precision.py).
FP32 = "fp32"
REDUCED_PRECISIONS = ("bf16", "fp16")
PRECISION_CHOICES = (FP32, *REDUCED_PRECISIONS)


# What a filter may set (the rest of FaceSettings follows the code and the detector).
FACE_OPTIONS = ("faces", "margin", "align")


@dataclass(frozen=True)
class FaceSettings:
    """What decides a face filter's pixels besides the network: which faces, how each is cut
    (ganstudio/faces/crops.py) and pasted back, and the detector the crops come from."""

    faces: str = "all"  # every face found (up to max_faces, the largest first), or "largest"
    margin: float = DEFAULT_MARGIN  # crop side over the face box's larger side (whole head)
    align: bool = True  # turn each crop so the eyes are level
    feather: float = DEFAULT_FEATHER  # soft edge of the paste, a fraction of the crop side
    max_faces: int = MAX_FACES
    detector: str = DETECTOR  # a new detector finds other boxes: other crops, other pixels

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> "FaceSettings":
        """A filter's face settings from its stored options (unset ones: the defaults)."""
        return cls(**{k: v for k, v in (options or {}).items() if k in FACE_OPTIONS})

    def __post_init__(self) -> None:
        if self.faces not in FACE_CHOICES:
            raise ValueError(f"faces must be 'all' or 'largest', got {self.faces!r}")
        if self.margin <= 0 or self.feather < 0 or self.max_faces < 1:
            raise ValueError(
                "face settings need margin > 0, feather >= 0 and max_faces >= 1, got "
                f"{self.margin}, {self.feather}, {self.max_faces}"
            )


@dataclass(frozen=True)
class PipelineSettings:
    """Everything besides the checkpoint and the input that decides a render's pixels."""

    pipeline: str  # "full" (the whole image) or "face" (face crops, pasted back)
    input_size: int  # longest side fed to the network (face filters: each crop's side)
    revision: int = PIPELINE_REVISION
    # A 4-channel version on a photo without a mask: the eye mask made from the photo's face
    # landmarks, named by what decides its pixels (services/faces.landmarks_mask_key); "" = none.
    eye_mask: str = ""
    # Only face filters have it; None is left out of as_dict, so the keys of `full` renders are
    # the same as before face crops existed.
    face: FaceSettings | None = None
    # The forward pass's precision: a bf16 render is another render than the fp32 one (its own
    # key and cache); "fp32" is left out of as_dict, so renders keyed before it keep their keys.
    precision: str = FP32

    def __post_init__(self) -> None:
        if isinstance(self.face, dict):  # read back from a render's stored settings
            object.__setattr__(self, "face", FaceSettings(**self.face))
        if self.precision not in PRECISION_CHOICES:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {self.precision!r}"
            )

    @classmethod
    def for_filter(
        cls, *, pipeline: Pipeline, input_size: int, face_options: dict[str, Any] | None = None
    ) -> "PipelineSettings":
        """The settings of a filter's renders; a face filter's options pick its crops."""
        if pipeline == Pipeline.FACE:
            face = FaceSettings.from_options(face_options)
            return cls(pipeline=Pipeline.FACE.value, input_size=input_size, face=face)
        return cls(pipeline=Pipeline.FULL.value, input_size=input_size)

    def as_dict(self) -> dict[str, Any]:
        # Optional parts are left out when unset, so renders keyed before they existed keep
        # their keys.
        data = asdict(self)
        if not self.eye_mask:
            del data["eye_mask"]
        if self.face is None:
            del data["face"]
        if self.precision == FP32:
            del data["precision"]
        return data


def mask_for_settings(
    *, input_channels: int, mask: MaskT | None, settings: PipelineSettings
) -> MaskT | None:
    """`mask_for`, except on the face pipeline: there the worker makes each crop's eye mask from
    the face analysis, so a sample's uploaded mask is neither needed nor part of the key."""
    if settings.face is not None:
        return None
    return mask_for(input_channels=input_channels, mask=mask)


def render_key(
    *,
    checkpoint_sha256: str,
    input_sha256: str,
    mask_sha256: str | None,
    settings: PipelineSettings,
) -> str:
    """Return the content key of a render: the same inputs always give the same key."""
    parts = {
        "checkpoint": checkpoint_sha256,
        "input": input_sha256,
        "mask": mask_sha256,
        "settings": settings.as_dict(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def fit(image: Image.Image, input_size: int) -> Image.Image:
    """Shrink so the longest side is at most `input_size`, keeping the aspect ratio."""
    longest = max(image.size)
    if longest <= input_size:
        return image
    scale = input_size / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def prepare_input(
    rgb: Image.Image,
    *,
    settings: PipelineSettings,
    input_channels: int,
    mask: Image.Image | None = None,
) -> tuple[Image.Image, Image.Image | None]:
    """Return the RGB image the network sees, and its mask (8-bit L) for 4-channel versions."""
    image = fit(rgb, settings.input_size)
    mask = mask_for(input_channels=input_channels, mask=mask)
    if mask is None:
        return image, None
    return image, mask.convert("L").resize(image.size, Image.Resampling.BILINEAR)
