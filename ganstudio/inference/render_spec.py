"""What decides a render's pixels, without torch: pipeline settings, the render key, the input.

The worker prepares each input here (fit to the filter's size, the mask as channel 4) and sends
the pixels to an executor, which runs the tensor side (`ganstudio.inference.pipeline`). Services
import this module, so the web process needs no torch to queue renders.
"""

import hashlib
import json
from dataclasses import asdict, dataclass

from PIL import Image

from ganstudio.vocabulary import Pipeline

# Bump when the output for the same input changes: old renders then no longer match.
PIPELINE_REVISION = 1

MISSING_MASK = "this version takes RGB + a mask, and the sample has no mask"


class RenderError(RuntimeError):
    """The render failed; the message says why (shown on the cell)."""


@dataclass(frozen=True)
class PipelineSettings:
    """Everything besides the checkpoint and the input that decides a render's pixels."""

    pipeline: str  # "full" (face filters also run `full` until face crops exist)
    input_size: int  # longest side fed to the network
    revision: int = PIPELINE_REVISION

    @classmethod
    def for_filter(cls, *, pipeline: Pipeline, input_size: int) -> "PipelineSettings":
        # Face crops are not built yet: every filter runs the whole image for now.
        del pipeline
        return cls(pipeline=Pipeline.FULL.value, input_size=input_size)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


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
    if input_channels != 4:
        return image, None
    if mask is None:
        raise RenderError(MISSING_MASK)
    return image, mask.convert("L").resize(image.size, Image.Resampling.BILINEAR)
