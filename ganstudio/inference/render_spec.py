"""What decides a render's pixels, without torch: pipeline settings, the render key, the input.

The worker prepares each input here (fit to the filter's size, the mask as channel 4) and sends
the pixels to an executor, which runs the tensor side (`ganstudio.inference.pipeline`). Services
import this module, so the web process needs no torch to queue renders.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TypeVar

from PIL import Image

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


@dataclass(frozen=True)
class PipelineSettings:
    """Everything besides the checkpoint and the input that decides a render's pixels."""

    pipeline: str  # "full" (face filters also run `full` until face crops exist)
    input_size: int  # longest side fed to the network
    revision: int = PIPELINE_REVISION
    # A 4-channel version on a photo without a mask: the eye mask made from the photo's face
    # landmarks, named by what decides its pixels (services/faces.landmarks_mask_key); "" = none.
    eye_mask: str = ""

    @classmethod
    def for_filter(cls, *, pipeline: Pipeline, input_size: int) -> "PipelineSettings":
        # Face crops are not built yet: every filter runs the whole image for now.
        del pipeline
        return cls(pipeline=Pipeline.FULL.value, input_size=input_size)

    def as_dict(self) -> dict[str, object]:
        values = asdict(self)
        if not self.eye_mask:  # left out, so renders keyed before it existed keep their keys
            del values["eye_mask"]
        return values


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
