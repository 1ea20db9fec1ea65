"""Check an uploaded checkpoint before it is stored: load it, run a probe, measure it.

The check runs in a fresh executor (`ganstudio.inference.networks.start_network`): a
checkpoint that hangs, crashes, eats memory or tries to reach the server's files costs a
killed, sandboxed child, never the server. `check_checkpoint` is the entry point the services
call; `measure_network` is what the executor runs.
"""

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the executor imports this module; it needs no settings
    import torch

    from ganstudio.config import Settings
    from ganstudio.inference.loader import LoadedNetwork

PROBE_SIZE = 256  # divisible by the stride of any U-Net up to depth 8
MEASURE_SIZE = 512
LATENCY_RUNS = 3


class CheckpointRejectedError(ValueError):
    """The checkpoint failed its check; the message says why and what to do."""


@dataclass(frozen=True)
class CheckReport:
    format: str
    architecture: str | None
    config: dict[str, Any]
    input_channels: int
    param_count: int
    gflops_512: float | None
    latency_ms_512: float


def check_checkpoint(
    path: Path,
    *,
    architecture: str | None,
    config: dict[str, Any] | None,
    settings: "Settings",
) -> CheckReport:
    """Check `path` in a fresh executor; raise CheckpointRejectedError with the reason."""
    from ganstudio.inference.executor import ExecutorError, ExecutorTimeoutError
    from ganstudio.inference.formats import CheckpointError
    from ganstudio.inference.networks import start_network

    limit = settings.checkpoint_check_seconds
    deadline = time.monotonic() + limit
    loaded = None
    try:
        loaded = start_network(
            settings, path.read_bytes(), architecture=architecture, config=config, timeout=limit
        )
        answer, _ = loaded.executor.request(
            {"op": "check"}, timeout=max(1.0, deadline - time.monotonic())
        )
        return _report(answer, format=loaded.format)
    except ExecutorTimeoutError:
        raise CheckpointRejectedError(
            f"The check took longer than the {limit:.0f} s limit (loading it and running one "
            f"{PROBE_SIZE}×{PROBE_SIZE} probe and {LATENCY_RUNS + 1} runs at "
            f"{MEASURE_SIZE}×{MEASURE_SIZE}). Push a lighter network, or ask an admin to raise "
            "GANSTUDIO_CHECKPOINT_CHECK_SECONDS."
        ) from None
    except (CheckpointError, ExecutorError) as exc:
        raise CheckpointRejectedError(str(exc)) from None
    finally:
        if loaded is not None:
            loaded.executor.close()


def _report(answer: dict[str, Any], *, format: str) -> CheckReport:
    """Build the report from an executor's answer, trusting none of its types."""
    try:
        gflops = answer["gflops_512"]
        return CheckReport(
            format=format,
            architecture=str(answer["architecture"]) if answer["architecture"] else None,
            config=dict(answer["config"] or {}),
            input_channels=int(answer["input_channels"]),
            param_count=int(answer["param_count"]),
            gflops_512=None if gflops is None else float(gflops),
            latency_ms_512=float(answer["latency_ms_512"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointRejectedError(f"The check returned a malformed report ({exc}).") from None


def probe_tensor(channels: int, size: int) -> "torch.Tensor":
    """Return a deterministic, image-like probe in [-1, 1]: gradients, a disc and stripes."""
    import torch

    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    disc = ((xs**2 + ys**2) < 0.4).float() * 2 - 1
    stripes = torch.sin(xs * 12)
    planes = [xs, ys, disc, stripes]
    return torch.stack([planes[i % len(planes)] for i in range(channels)])[None]  # (1, C, H, W)


def measure_network(loaded: "LoadedNetwork") -> dict[str, Any]:
    """Probe a loaded network (in the executor) and measure it; raise with what is wrong."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganstudio.inference.errors import describe_error
    from ganstudio.inference.formats import CheckpointError

    net = loaded.net
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    channels_to_try = [loaded.input_channels] if loaded.input_channels else [3, 4]
    output, channels, failure = None, 0, ""
    with torch.inference_mode():
        for channels in channels_to_try:
            try:
                output = net(probe_tensor(channels, PROBE_SIZE).to(device))
                break
            except Exception as exc:  # a network may raise anything on the wrong input
                failure = describe_error(exc)
    if output is None:
        raise CheckpointError(
            f"The network raised an error on a {PROBE_SIZE}×{PROBE_SIZE} probe "
            f"image with {'/'.join(map(str, channels_to_try))} channels: {failure}"
        )
    problem = _output_problem(output, PROBE_SIZE)
    if problem:
        raise CheckpointError(problem)
    big = probe_tensor(channels, MEASURE_SIZE).to(device)
    with torch.inference_mode():
        gflops = None
        try:
            with FlopCounterMode(display=False) as counter:
                net(big)
            gflops = round(counter.get_total_flops() / 1e9, 3)
        except Exception:  # counting is best-effort (some TorchScript ops are opaque)
            net(big)
        timings = []
        for _ in range(LATENCY_RUNS):
            start = time.perf_counter()
            net(big)
            timings.append((time.perf_counter() - start) * 1000)
    report = CheckReport(
        format=loaded.format,
        architecture=loaded.architecture,
        config=loaded.config,
        input_channels=channels,
        param_count=sum(p.numel() for p in net.parameters()),
        gflops_512=gflops,
        latency_ms_512=round(statistics.median(timings), 2),
    )
    return asdict(report)


def _output_problem(output: object, size: int) -> str | None:
    import torch

    if not isinstance(output, torch.Tensor):
        return f"The network returned a {type(output).__name__}, not an image tensor."
    if output.dim() != 4 or output.shape[0] != 1:
        return f"The network returned shape {tuple(output.shape)}; expected (1, 3, H, W)."
    if output.shape[1] != 3:
        return f"The network outputs {output.shape[1]} channel(s); a filter must output 3 (RGB)."
    if tuple(output.shape[2:]) != (size, size):
        return (
            f"The network turned a {size}×{size} input into "
            f"{output.shape[2]}×{output.shape[3]}; it must keep height and width."
        )
    if not torch.isfinite(output).all():
        return "The network's output contains NaN or infinite values on the probe image."
    return None
