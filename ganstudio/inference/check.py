"""Check an uploaded checkpoint before it is stored: load it, run a probe, measure it.

Runs in a child process (`python -m ganstudio.inference.check`), so a checkpoint that hangs,
crashes or eats memory costs a killed child, never the server. `check_checkpoint` is the
entry point the services call; it enforces the time limit.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    timeout_seconds: float,
) -> CheckReport:
    """Check `path` in a child process; raise CheckpointRejectedError with the reason."""
    request = json.dumps({"path": str(path), "architecture": architecture, "config": config})
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ganstudio.inference.check"],
            input=request,
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckpointRejectedError(
            f"The check took longer than the {timeout_seconds:.0f} s limit (loading it and "
            f"running one {PROBE_SIZE}×{PROBE_SIZE} probe and {LATENCY_RUNS + 1} runs at "
            f"{MEASURE_SIZE}×{MEASURE_SIZE}). Push a lighter network, or ask an admin to raise "
            "GANSTUDIO_CHECKPOINT_CHECK_SECONDS."
        ) from None
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        tail = (result.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise CheckpointRejectedError(
            f"Checking the checkpoint crashed (exit code {result.returncode}: {tail[0][:300]})."
        )
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise CheckpointRejectedError(answer["error"])
    return CheckReport(**answer)


def probe_image(channels: int, size: int) -> "torch.Tensor":  # noqa: F821
    """Return a deterministic, image-like probe in [-1, 1]: gradients, a disc and stripes."""
    import torch

    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    disc = ((xs**2 + ys**2) < 0.4).float() * 2 - 1
    stripes = torch.sin(xs * 12)
    planes = [xs, ys, disc, stripes]
    return torch.stack([planes[i % len(planes)] for i in range(channels)])[None]  # (1, C, H, W)


def _run_checks(path: Path, architecture: str | None, config: dict[str, Any] | None) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganstudio.inference.errors import describe_error
    from ganstudio.inference.loader import CheckpointError, load_network

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        loaded = load_network(path, architecture=architecture, config=config)
    except CheckpointError as exc:
        return {"error": str(exc)}
    net = loaded.net
    channels_to_try = [loaded.input_channels] if loaded.input_channels else [3, 4]
    output, channels, failure = None, 0, ""
    with torch.inference_mode():
        for channels in channels_to_try:
            try:
                output = net(probe_image(channels, PROBE_SIZE))
                break
            except Exception as exc:  # a network may raise anything on the wrong input
                failure = describe_error(exc)
    if output is None:
        return {
            "error": f"The network raised an error on a {PROBE_SIZE}×{PROBE_SIZE} probe "
            f"image with {'/'.join(map(str, channels_to_try))} channels: {failure}"
        }
    problem = _output_problem(output, PROBE_SIZE)
    if problem:
        return {"error": problem}
    big = probe_image(channels, MEASURE_SIZE)
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
    params = sum(p.numel() for p in net.parameters())
    report = CheckReport(
        format=loaded.format,
        architecture=loaded.architecture,
        config=loaded.config,
        input_channels=channels,
        param_count=params,
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


def main() -> None:
    request = json.loads(sys.stdin.read())
    answer = _run_checks(Path(request["path"]), request.get("architecture"), request.get("config"))
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
