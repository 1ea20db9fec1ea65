"""The `full` pipeline: fit, pad to the stride (reflection), normalise, run, unpad, save.

Images come in as 8-bit RGB from `ganstudio.storage.images.load_rgb` (one place decides how
alpha, palette, 16-bit and CMYK become RGB). A 4-channel version gets the sample's grayscale
mask, resized like the image, as its 4th channel.
"""

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganstudio.vocabulary import Pipeline

# Bump when this module's output for the same input changes: old renders then no longer match.
PIPELINE_REVISION = 1


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


def to_tensor(rgb: Image.Image, mask: Image.Image | None = None) -> torch.Tensor:
    """Return (1, C, H, W) in [-1, 1]: RGB, plus the mask as a 4th channel when given."""
    planes = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0  # (H, W, 3)
    if mask is not None:
        mask_plane = np.asarray(mask.convert("L"), dtype=np.float32)[..., None] / 127.5 - 1.0
        planes = np.concatenate([planes, mask_plane], axis=2)  # (H, W, 4)
    return torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))[None]


def pad_to_stride(x: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W up to multiples of `stride` by reflection; return the original (H, W)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % stride, (-width) % stride
    if pad_h or pad_w:
        # Reflection needs the pad to be smaller than the side; tiny images replicate instead.
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)  # (1, C, H', W')
    return x, (height, width)


def to_image(y: torch.Tensor, size: tuple[int, int]) -> Image.Image:
    """Crop the padding away and turn (1, 3, H', W') in [-1, 1] into an 8-bit RGB image."""
    height, width = size
    y = y[0, :3, :height, :width].float().clamp(-1, 1)  # (3, H, W)
    pixels = ((y + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()  # (H, W, 3)
    return Image.fromarray(pixels, mode="RGB")


def run_full(
    net: torch.nn.Module,
    rgb: Image.Image,
    *,
    settings: PipelineSettings,
    stride: int,
    input_channels: int,
    mask: Image.Image | None = None,
    device: torch.device | None = None,
) -> Image.Image:
    """Render one image through `net` with the full-image pipeline."""
    image = fit(rgb, settings.input_size)
    if input_channels == 4:
        if mask is None:
            raise RenderError("this version takes RGB + a mask, and the sample has no mask")
        mask = mask.resize(image.size, Image.Resampling.BILINEAR)
    x = to_tensor(image, mask if input_channels == 4 else None)
    x, size = pad_to_stride(x, max(stride, 1))
    x = x.to(device or "cpu", memory_format=torch.channels_last)  # matches the loaded network
    with torch.inference_mode():
        y = net(x)
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] < 3:
        raise RenderError(f"the network returned {type(y).__name__} of an unexpected shape")
    if not torch.isfinite(y).all():
        raise RenderError("the network's output contains NaN or infinite values")
    return to_image(y, size)
