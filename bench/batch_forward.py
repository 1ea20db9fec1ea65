"""Where a batched render's time goes: per image, by phase, in-process and in an executor.

    .venv/bin/python bench/batch_forward.py [--device cuda] [--size 1024] [--batches 1,8]

For the light and the heavy se-unet, per batch size: the phases of pipeline.forward_batch
(upload, normalise, network, to uint8, download) with the device synchronised between them,
for the network in channels_last and in NCHW memory, with cuDNN's autotuner off and on; then
the same batches through a sandboxed executor (render_batch), as the worker runs them.
Per-image milliseconds, medians of --runs; compare within one run.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models

NETWORKS = {
    "light": {"base_width": 16, "depth": 3},
    "heavy": {"base_width": 48, "depth": 4},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def phases(net, pixels: np.ndarray, device: torch.device, layout) -> dict[str, float]:
    """One batch through forward_batch's steps, timed apart (seconds)."""
    marks = [time.perf_counter()]

    def mark() -> None:
        sync(device)
        marks.append(time.perf_counter())

    x = torch.from_numpy(pixels).to(device)
    mark()
    x = (x.permute(0, 3, 1, 2).float() / 127.5 - 1.0).contiguous(memory_format=layout)
    mark()
    with torch.inference_mode():
        y = net(x)
    mark()
    out = ((y[:, :3].clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).contiguous()
    mark()
    out.cpu().numpy()
    mark()
    names = ("upload", "normalise", "network", "to uint8", "download")
    return {name: marks[i + 1] - marks[i] for i, name in enumerate(names)}


def in_process(args, device: torch.device) -> None:
    for name, config in NETWORKS.items():
        for layout_name, layout in (
            ("channels_last", torch.channels_last),
            ("NCHW", torch.contiguous_format),
        ):
            for autotune in (False, True):
                if device.type != "cuda" and autotune:
                    continue
                torch.backends.cudnn.benchmark = autotune
                torch.manual_seed(0)
                net = models.build("se-unet", config).eval().to(device, memory_format=layout)
                for batch in args.batches:
                    pixels = np.random.default_rng(0).integers(
                        0, 256, (batch, args.size, args.size, 3), dtype=np.uint8
                    )
                    for _ in range(2):  # warm: kernels chosen (and autotuned) once per shape
                        phases(net, pixels, device, layout)
                    runs = [phases(net, pixels, device, layout) for _ in range(args.runs)]
                    each = {k: statistics.median(r[k] for r in runs) / batch for k in runs[0]}
                    total = sum(each.values())
                    print(
                        f"{name:<6} {layout_name:<13} autotune {'on ' if autotune else 'off'} "
                        f"batch {batch:>2}: {total * 1000:7.2f} ms/image = "
                        + ", ".join(f"{k} {v * 1000:.2f}" for k, v in each.items())
                    )
    torch.backends.cudnn.benchmark = False


def in_executor(args, device: torch.device) -> None:
    from PIL import Image

    from ganstudio.inference.networks import render_batch, start_network
    from tests.conftest import make_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp) / "data", device=device.type)
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        for name, config in NETWORKS.items():
            torch.manual_seed(0)
            net = models.build("se-unet", config)
            path = Path(tmp) / f"{name}.safetensors"
            models.save_checkpoint(path, net, "se-unet", net.config)
            loaded = start_network(
                settings, path.read_bytes(), architecture=None, config=None, timeout=300
            )
            try:
                for batch in args.batches:
                    rng = np.random.default_rng(batch)
                    images = [
                        (Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3),
                                                      dtype=np.uint8)), None)
                        for _ in range(batch)
                    ]  # fmt: skip
                    for _ in range(2):
                        render_batch(loaded, images, timeout=300)
                    walls, inside = [], []
                    for _ in range(args.runs):
                        start = time.perf_counter()
                        result = render_batch(loaded, images, timeout=300)
                        walls.append(time.perf_counter() - start)
                        inside.append(result.forward_seconds)
                    print(
                        f"{name:<6} executor ({loaded.device}, sandbox "
                        f"{'on' if loaded.report.active else 'off'}) batch {batch:>2}: "
                        f"{statistics.median(walls) / batch * 1000:7.2f} ms/image round trip, "
                        f"{statistics.median(inside) / batch * 1000:7.2f} ms/image inside"
                    )
            finally:
                loaded.executor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    args.size = args.size or (1024 if device.type == "cuda" else 256)
    args.batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, {args.size}², device {device}")
    in_process(args, device)
    in_executor(args, device)


if __name__ == "__main__":
    main()
