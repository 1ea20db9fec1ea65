"""The tensor side of the `full` pipeline: normalise, pad to the stride, run, unpad.

Runs inside an executor (`ganstudio.inference.executor_child`) on pixels the worker prepared
with `ganstudio.inference.render_spec.prepare_input`; `run_full` composes both for in-process
use (benchmarks, tests).
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganstudio.inference.render_spec import PipelineSettings, RenderError, prepare_input


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


def input_tensor(
    image: Image.Image,
    mask: Image.Image | None,
    *,
    stride: int,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Return the network's input for a prepared image (and mask), padded to the stride, and
    the image's (H, W): what a render and an analysis both feed the network."""
    x = to_tensor(image, mask)
    x, size = pad_to_stride(x, max(stride, 1))
    return x.to(device or "cpu", memory_format=torch.channels_last), size  # as the network is


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def pixels_tensor(pixels: np.ndarray, *, device: torch.device | None = None) -> torch.Tensor:
    """(N, H, W, C) uint8 pixels → (N, C, H, W) float32 in [-1, 1] on `device`.

    The bytes travel to the device as uint8 (a quarter of float32's size) and are normalised
    there; the arithmetic is `to_tensor`'s, so a batch sees exactly what one image would.
    """
    # Writable for torch (bytes off a socket are not); the copy is of uint8, and cheap.
    x = torch.from_numpy(np.require(pixels, requirements="W")).to(device or "cpu")
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def pad_batch(pixels: np.ndarray, target: int) -> np.ndarray:
    """(N, H, W, C) → (target, H, W, C) by repeating the last input, when 1 < N < target.

    Each output depends on its own input only, so the first N outputs are unchanged; the
    caller drops the rest. A batch of one stays one (a web test's render waits for no one).
    """
    count = len(pixels)
    if count <= 1 or count >= target:
        return pixels
    return np.concatenate([pixels, np.repeat(pixels[-1:], target - count, axis=0)])


def forward_batch(
    net: torch.nn.Module,
    pixels: np.ndarray,
    *,
    stride: int,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Run `net` on a batch of same-size prepared inputs; return (N, H, W, 3) uint8 outputs.

    pixels: (N, H, W, C) uint8, C = 3 (RGB) or 4 (RGB + mask). Each output depends on its own
    input only (eval mode: no batch statistics), so a batch's outputs are the images' own.
    `precision` "bf16"/"fp16" runs under autocast (a per-filter opt-in, measured first).
    """
    x, (height, width) = pad_to_stride(pixels_tensor(pixels, device=device), max(stride, 1))
    x = x.contiguous(memory_format=torch.channels_last)  # as the network is
    dtype = PRECISIONS[precision]
    with (
        torch.inference_mode(),
        torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None),
    ):
        y = net(x)
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] < 3:
        raise RenderError(f"the network returned {type(y).__name__} of an unexpected shape")
    if tuple(y.shape[-2:]) != tuple(x.shape[-2:]) or y.shape[0] != x.shape[0]:
        raise RenderError(
            f"the network turned a {x.shape[-1]}×{x.shape[-2]} input into "
            f"{y.shape[-1]}×{y.shape[-2]}; it must keep height and width"
        )
    y = y[:, :3, :height, :width].float()
    if not torch.isfinite(y).all():
        raise RenderError("the network's output contains NaN or infinite values")
    # [-1, 1] → 8-bit on the device, the padding cropped away: only uint8 comes back.
    out = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
    return out.contiguous().cpu().numpy()


def forward_image(
    net: torch.nn.Module,
    image: Image.Image,
    *,
    stride: int,
    mask: Image.Image | None = None,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> Image.Image:
    """Run `net` on one prepared image (and mask); return its output at the same size."""
    planes = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if mask is not None:
        planes = np.concatenate([planes, np.asarray(mask.convert("L"))[..., None]], axis=2)
    out = forward_batch(net, planes[None], stride=stride, device=device, precision=precision)
    return Image.fromarray(out[0], mode="RGB")


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
    """Render one image through `net` in this process (benchmarks and tests only)."""
    image, mask = prepare_input(rgb, settings=settings, input_channels=input_channels, mask=mask)
    return forward_image(net, image, stride=stride, mask=mask, device=device)
