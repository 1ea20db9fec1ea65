"""Run pushed networks in executors: start one, prove its sandbox, load, check, render; a pool.

The rules that decide whether a checkpoint may run at all live here, once, for the push check
and the render worker alike:
- the format is read from the bytes in the worker (no torch, no code runs);
- a TorchScript archive must pass `torchscript_check` (pure tensor operations only), and
  runs only in an executor whose self-test shows the kernel sandbox denies reading the data
  directory and writing files; without that, TorchScript is refused.
"""

import contextlib
import io
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganstudio.config import Settings
from ganstudio.inference.executor import (
    Executor,
    ExecutorCrashedError,
    ExecutorError,
    ExecutorRefusedError,
    ExecutorSpec,
    ExecutorTimeoutError,
    zygote,
)
from ganstudio.inference.formats import CheckpointError, detect_format
from ganstudio.inference.layers import SALIENCY, LayerInfo, VersionLayers
from ganstudio.inference.sandbox import ExecutorLimits, SandboxReport, landlock_abi
from ganstudio.inference.torchscript_check import check_torchscript

TORCHSCRIPT_NEEDS_SANDBOX = (
    "TorchScript archives carry code, and this server has no active kernel sandbox to run them "
    "in (Landlock is unavailable or turned off). Push safetensors, or ask an admin to enable "
    "the sandbox (a Linux kernel with Landlock, GANSTUDIO_SANDBOX=auto)."
)
MAX_STRIDE = 1 << 12


def executor_spec(settings: Settings) -> ExecutorSpec:
    """Return how this install starts executors (device, threads, limits, sandbox)."""
    return ExecutorSpec(
        device=settings.device,
        # Every core by default. N workers on one machine, each with a thread per core,
        # oversubscribe it: torch's threads then wait on each other (bench/workers.py).
        threads=settings.torch_threads or max(1, os.cpu_count() or 1),
        limits=ExecutorLimits(address_space_bytes=settings.executor_memory_bytes),
        sandbox=settings.sandbox == "auto",
    )


def canaries(settings: Settings) -> list[Path]:
    """Return files of the data directory a sandboxed executor must not be able to read."""
    data_dir = settings.resolved_data_dir
    found = [data_dir / "secret_key", data_dir / "ganstudio.db"]
    return [p for p in found if p.exists()] or [data_dir]


@dataclass
class LoadedExecutor:
    """An executor with a network loaded, and what the load reported."""

    executor: Executor
    format: str
    architecture: str | None
    config: dict[str, Any]
    stride: int
    input_channels: int | None
    report: SandboxReport
    device: str = "cpu"  # where the executor put the network ("auto" resolved), e.g. "cuda:0"


def start_network(
    settings: Settings,
    checkpoint: bytes,
    *,
    architecture: str | None,
    config: dict[str, Any] | None,
    timeout: float,
) -> LoadedExecutor:
    """Start a fresh executor, prove its sandbox, and load `checkpoint` into it."""
    kind = detect_format(io.BytesIO(checkpoint))
    if kind == "torchscript":
        check_torchscript(io.BytesIO(checkpoint))
    spec = executor_spec(settings)
    executor = zygote(sandbox=spec.sandbox).spawn(spec)
    try:
        report = executor.selftest(canaries(settings), timeout=timeout)
        _remember(report, sandboxed=spec.sandbox)
        if kind == "torchscript" and not report.active:
            raise CheckpointError(TORCHSCRIPT_NEEDS_SANDBOX)
        try:
            answer, _ = executor.request(
                {"op": "load", "architecture": architecture, "config": config},
                checkpoint,
                timeout=timeout,
            )
        except ExecutorRefusedError as exc:
            raise CheckpointError(str(exc)) from None
        return LoadedExecutor(
            executor=executor,
            format=kind if kind == "torchscript" else str(answer["format"]),
            architecture=_optional_str(answer.get("architecture")),
            config=dict(answer.get("config") or {}),
            stride=_bounded_int(answer.get("stride"), 1, MAX_STRIDE),
            input_channels=_optional_channels(answer.get("input_channels")),
            report=report,
            device=str(answer.get("device", "cpu"))[:20],
        )
    except BaseException:
        executor.kill()
        raise


def _image_header(image: Image.Image, mask: Image.Image | None) -> dict[str, Any]:
    width, height = image.size
    return {"width": width, "height": height, "channels": 4 if mask else 3}


def _image_payload(image: Image.Image, mask: Image.Image | None) -> tuple[dict[str, Any], bytes]:
    """The header fields and bytes that carry a prepared image (and mask) to an executor."""
    planes = image.tobytes() + (mask.tobytes() if mask is not None else b"")
    return _image_header(image, mask), planes


@dataclass(frozen=True)
class BatchResult:
    """A batch's outputs, in order, and the executor's own forward time for all of them."""

    outputs: list[Image.Image]
    forward_seconds: float


def render_batch(
    loaded: LoadedExecutor,
    inputs: list[tuple[Image.Image, Image.Image | None]],
    *,
    timeout: float,
    precision: str = "fp32",
    shape_batch: int = 1,
) -> BatchResult:
    """Render same-size prepared images (and masks) in one request to `loaded`'s executor.

    shape_batch: the worker's batch size; on a GPU a smaller batch (but not one input) is
    padded up to it, so an executor runs only two batch shapes (executor_child._padded)."""
    width, height = inputs[0][0].size
    header = _image_header(*inputs[0])
    if any(_image_header(image, mask) != header for image, mask in inputs):
        raise ValueError("a batch holds images of one size, all with a mask or none")
    # The executor reads (N, H, W, C): each image's channels interleaved, as the network's input.
    pixels = b"".join(_interleaved(image, mask) for image, mask in inputs)
    out_size = width * height * 3
    answer, data = loaded.executor.request(
        {
            **header,
            "op": "render",
            "count": len(inputs),
            "precision": precision,
            "shape_batch": shape_batch,
        },
        pixels,
        timeout=timeout,
        max_payload=len(inputs) * out_size,
    )
    if (answer.get("width"), answer.get("height"), answer.get("count")) != (
        width,
        height,
        len(inputs),
    ) or len(data) != len(inputs) * out_size:
        loaded.executor.kill()
        raise ExecutorError("The network's process returned images of the wrong size.")
    view = memoryview(data)  # each image copied once, by Pillow, out of the answer's bytes
    outputs = [
        Image.frombytes("RGB", (width, height), view[n * out_size : (n + 1) * out_size])
        for n in range(len(inputs))
    ]
    forward_ms = answer.get("forward_ms")
    seconds = forward_ms / 1000 if isinstance(forward_ms, int | float) and forward_ms >= 0 else 0.0
    return BatchResult(outputs, seconds)


def _interleaved(image: Image.Image, mask: Image.Image | None) -> bytes:
    if mask is None:
        return image.tobytes()
    return Image.merge("RGBA", (*image.split(), mask)).tobytes()  # RGB + mask per pixel


def render_image(
    loaded: LoadedExecutor,
    image: Image.Image,
    mask: Image.Image | None,
    *,
    timeout: float,
    precision: str = "fp32",
) -> Image.Image:
    """Render one prepared image (and mask) in `loaded`'s executor; same size out as in."""
    return render_batch(loaded, [(image, mask)], timeout=timeout, precision=precision).outputs[0]


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _bounded_int(value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ExecutorError(f"The network's process reported an impossible value ({value!r}).")
    return value


def _optional_channels(value: object) -> int | None:
    return None if value is None else _bounded_int(value, 1, 64)


# The newest self-test of an executor of this process, per sandbox mode: status pages show it.
_last_reports: dict[bool, tuple[SandboxReport, datetime]] = {}


def _remember(report: SandboxReport, *, sandboxed: bool) -> None:
    _last_reports[sandboxed] = (report, datetime.now(UTC))


@dataclass(frozen=True)
class SandboxStatus:
    """What the status page and /healthz say about the sandbox."""

    mode: str  # the GANSTUDIO_SANDBOX setting
    active: bool | None  # None: no executor has been measured yet
    summary: str
    kernel_landlock_abi: int
    report: SandboxReport | None
    measured_at: datetime | None


def sandbox_status(settings: Settings) -> SandboxStatus:
    """Return the newest measurement of this install's sandbox (never starts anything)."""
    abi = landlock_abi()
    if settings.sandbox == "off":
        return SandboxStatus(
            "off",
            False,
            "turned off (GANSTUDIO_SANDBOX=off): resource limits only; TorchScript pushes are "
            "refused",
            abi,
            None,
            None,
        )
    measured = _last_reports.get(True)
    if measured is None:
        summary = (
            f"not measured yet: the kernel offers Landlock ABI {abi}; the first executor runs "
            "the self-test"
            if abi
            else "no kernel sandbox (Landlock unavailable): TorchScript pushes are refused"
        )
        return SandboxStatus("auto", False if not abi else None, summary, abi, None, None)
    report, at = measured
    return SandboxStatus("auto", report.active, report.describe(), abi, report, at)


def measure_sandbox(settings: Settings, *, timeout: float = 300) -> SandboxReport:
    """Start an executor, run its self-test, stop it; return (and remember) what it found."""
    spec = executor_spec(settings)
    executor = zygote(sandbox=spec.sandbox).spawn(spec)
    try:
        report = executor.selftest(canaries(settings), timeout=timeout)
    finally:
        executor.close()
    _remember(report, sandboxed=spec.sandbox)
    return report


@dataclass
class NetworkSpec:
    """Which network a render needs, as its version row says."""

    checkpoint_sha256: str
    architecture: str | None
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, version: Any) -> "NetworkSpec":
        """The network of a version row (anything with its three columns)."""
        return cls(version.checkpoint_sha256, version.architecture, dict(version.config))


class ExecutorPool:
    """Warm executors, one per loaded network, least recently used closed first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.max_networks = max(1, settings.network_cache_size)
        self._warm: OrderedDict[str, LoadedExecutor] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a checkpoint was loaded (tests, benchmarks)

    def get(self, spec: NetworkSpec, read_checkpoint: Callable[[], bytes]) -> LoadedExecutor:
        """Return a warm executor holding `spec`'s network, loading it when none is."""
        with self._lock:
            warm = self._warm.get(spec.checkpoint_sha256)
            if warm is not None and warm.executor.alive:
                self._warm.move_to_end(spec.checkpoint_sha256)
                return warm
        loaded = start_network(
            self.settings,
            read_checkpoint(),
            architecture=spec.architecture,
            config=spec.config if spec.architecture else None,
            timeout=self.settings.checkpoint_check_seconds,
        )
        with self._lock:
            self.loads += 1
            stale = self._warm.pop(spec.checkpoint_sha256, None)
            self._warm[spec.checkpoint_sha256] = loaded
            evicted = [stale] if stale else []
            while len(self._warm) > self.max_networks:
                evicted.append(self._warm.popitem(last=False)[1])
        for old in evicted:
            old.executor.close()
        return loaded

    @contextlib.contextmanager
    def discarding(self, checkpoint_sha256: str) -> Iterator[None]:
        """Stop and forget the network's executor when a request to it times out (it was
        killed) or crashes, then let the error go on for the caller to word."""
        try:
            yield
        except (ExecutorTimeoutError, ExecutorCrashedError):
            self.discard(checkpoint_sha256)
            raise

    def discard(self, checkpoint_sha256: str) -> None:
        """Forget (and stop) the executor of a network, e.g. after it was killed."""
        with self._lock:
            warm = self._warm.pop(checkpoint_sha256, None)
        if warm is not None:
            warm.executor.kill()

    def executors(self) -> list[tuple[str, LoadedExecutor]]:
        """Return the warm executors by checkpoint sha256, most recently used last."""
        with self._lock:
            return list(self._warm.items())

    def close(self) -> None:
        with self._lock:
            warm, self._warm = list(self._warm.values()), OrderedDict()
        for loaded in warm:
            loaded.executor.close()


# --- analyses: what a version's output depends on (inference/attention.py runs them) ----------

MAX_LAYERS = 1000
_layer_lists: dict[str, list[LayerInfo]] = {}  # by architecture and config: they never change
_layer_lists_lock = threading.Lock()


def version_layers(
    settings: Settings,
    *,
    checkpoint_format: str,
    architecture: str | None,
    config: dict[str, Any],
    timeout: float = 120,
) -> VersionLayers:
    """Return what an analysis of a version can look at: its architecture's layers, listed
    once per architecture and config by an executor; TorchScript gets input-gradient saliency."""
    if checkpoint_format == "torchscript" or not architecture:
        return SALIENCY
    key = json.dumps([architecture, config], sort_keys=True)
    with _layer_lists_lock:
        known = _layer_lists.get(key)
    if known is None:
        spec = executor_spec(settings)
        executor = zygote(sandbox=spec.sandbox).spawn(spec)
        try:
            answer, _ = executor.request(
                {"op": "layers", "architecture": architecture, "config": config},
                timeout=timeout,
            )
        except ExecutorRefusedError as exc:
            message = f"The layers of {architecture} could not be listed: {exc}"
            raise ExecutorError(message) from None
        finally:
            executor.close()
        known = _parse_layers(answer.get("layers"))
        with _layer_lists_lock:
            _layer_lists[key] = known
    return VersionLayers("gradcam", known, "")


def _parse_layers(listed: object) -> list[LayerInfo]:
    if not isinstance(listed, list) or len(listed) > MAX_LAYERS:
        raise ExecutorError("The executor listed the layers in an unexpected form.")
    try:
        return [
            LayerInfo(
                name=str(item["name"])[:200],
                type=str(item["type"])[:100],
                channels=_bounded_int(item["channels"], 1, 1 << 20),
                scale=_bounded_int(item["scale"], 1, 1 << 16),
                default=bool(item["default"]),
            )
            for item in listed
        ]
    except (KeyError, TypeError):
        raise ExecutorError("The executor listed the layers in an unexpected form.") from None


MAX_FEATURE_CHANNELS = 64


@dataclass(frozen=True)
class AttentionMap:
    """What the region's output depends on, as the executor measured it."""

    method: str  # "gradcam" or "saliency" (TorchScript: input gradients)
    layer: str  # the layer hooked; "input" for saliency
    note: str  # why saliency, when it is
    heatmap: np.ndarray  # (H, W) float32 >= 0 at the image's size; sums to 1 (or all zeros)


@dataclass(frozen=True)
class FeatureChannel:
    index: int  # the channel's number in the layer
    strength: float  # mean absolute activation: the channels are the strongest by it
    pixels: np.ndarray  # (h, w) uint8, the channel min-max scaled


@dataclass(frozen=True)
class FeatureMaps:
    layer: str
    channels: list[FeatureChannel]  # strongest first


def attention_of(
    loaded: LoadedExecutor,
    image: Image.Image,
    mask: Image.Image | None,
    region: np.ndarray,
    *,
    layer: str | None,
    timeout: float,
) -> AttentionMap:
    """Return the Grad-CAM map (or saliency) of `region`'s output for a prepared image.

    region: (H, W) weights in [0, 1] of the output pixels to explain, at the image's size.
    """
    width, height = image.size
    if region.shape != (height, width):
        raise ValueError(f"the region is {region.shape}, the image {(height, width)}")
    plane = np.clip(np.rint(region * 255), 0, 255).astype(np.uint8)  # (H, W)
    header, payload = _image_payload(image, mask)
    answer, data = loaded.executor.request(
        {"op": "attention", "layer": layer, **header},
        payload + plane.tobytes(),
        timeout=timeout,
        max_payload=width * height * 4,
    )
    if (answer.get("width"), answer.get("height")) != (width, height) or len(data) != (
        width * height * 4
    ):
        loaded.executor.kill()
        raise ExecutorError("The network's process returned a map of the wrong size.")
    heatmap = np.frombuffer(bytes(data), dtype=np.float32).reshape(height, width)
    if not np.isfinite(heatmap).all() or (heatmap < 0).any():
        raise ExecutorError("The network's process returned a map with impossible values.")
    return AttentionMap(
        method="saliency" if answer.get("method") == "saliency" else "gradcam",
        layer=str(answer.get("layer", ""))[:200],
        note=str(answer.get("note", ""))[:1000],
        heatmap=heatmap,
    )


def features_of(
    loaded: LoadedExecutor,
    image: Image.Image,
    mask: Image.Image | None,
    *,
    layer: str | None,
    top: int,
    timeout: float,
) -> FeatureMaps:
    """Return the `top` strongest channels of a layer for a prepared image."""
    top = max(1, min(top, MAX_FEATURE_CHANNELS))
    width, height = image.size
    header, payload = _image_payload(image, mask)
    answer, data = loaded.executor.request(
        {"op": "features", "layer": layer, "top": top, **header},
        payload,
        timeout=timeout,
        max_payload=top * width * height,  # a layer is never finer than its input
    )
    listed = answer.get("channels")
    h, w = answer.get("height"), answer.get("width")
    if (
        not isinstance(listed, list)
        or not 1 <= len(listed) <= top
        or not isinstance(h, int)
        or not isinstance(w, int)
        or not (0 < h <= height and 0 < w <= width)
        or len(data) != len(listed) * h * w
    ):
        loaded.executor.kill()
        raise ExecutorError("The network's process returned feature maps of the wrong size.")
    planes = np.frombuffer(bytes(data), dtype=np.uint8).reshape(len(listed), h, w)
    channels = [
        FeatureChannel(int(item["index"]), float(item["strength"]), planes[i])
        for i, item in enumerate(listed)
    ]
    return FeatureMaps(layer=str(answer.get("layer", ""))[:200], channels=channels)
