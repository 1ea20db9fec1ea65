"""Check the CUDA path of the isolated executors on a GPU machine; prints what it measured.

    python bench/cuda_check.py [--size 1024] [--runs 20]

1. the sandbox self-test of an executor started for `cuda` (reads of the data directory,
   a write, a TCP connection and fork must be denied, as on CPU);
2. one se-unet (base width 48, depth 4: 3.5 M parameters) loaded into a cuda executor and a
   cpu executor: the rendered pixels must agree (max and mean absolute difference, 0–255);
3. the median wall time of a render through each executor (the socket round trip included)
   against the raw forward of the same network in this process, on the same device.
Exits non-zero when the cuda executor fails or its pixels differ from the CPU's by more than
2 levels. Nothing here runs in `make test`: CI has no GPU.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models
from ganstudio.config import Settings
from ganstudio.inference.networks import measure_sandbox, render_image, start_network

MAX_LEVELS = 2  # TF32/cuDNN vs oneDNN rounding may move a pixel by a level or two, not more


def photo(size: int) -> Image.Image:
    ys, xs = np.mgrid[0:size, 0:size] / size
    planes = [np.sin(xs * (3 + k) + ys * (5 - k) + k) for k in range(3)]
    return Image.fromarray(((np.stack(planes, axis=2) + 1) * 127.5).astype(np.uint8))


def timed_renders(loaded, image: Image.Image, runs: int) -> tuple[Image.Image, float]:
    out = render_image(loaded, image, None, timeout=300)  # warm-up: cuDNN picks its kernels
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = render_image(loaded, image, None, timeout=300)
        times.append(time.perf_counter() - start)
    return out, statistics.median(times) * 1000


def raw_forward_ms(net: torch.nn.Module, image: Image.Image, device: str, runs: int) -> float:
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    net, x = net.to(device).eval(), x.to(device)
    times = []
    with torch.inference_mode():
        net(x)
        for _ in range(runs):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            net(x)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--devices", default="cuda,cpu", help="cpu alone checks the script")
    args = parser.parse_args()
    devices = args.devices.split(",")
    print(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}")
    if "cuda" in devices and not torch.cuda.is_available():
        print("no GPU here: nothing to check")
        return 1
    if torch.cuda.is_available():
        print(f"device: {torch.cuda.get_device_name(0)}")
    work = Path(tempfile.mkdtemp(prefix="ganstudio-cuda-"))
    torch.manual_seed(0)
    net = models.build("se-unet", {"base_width": 48, "depth": 4})
    params = sum(p.numel() for p in net.parameters())
    path = work / "net.safetensors"
    models.save_checkpoint(path, net, "se-unet", net.config)
    checkpoint = path.read_bytes()
    image = photo(args.size)
    outputs, failed = {}, False
    for device in devices:
        settings = Settings(_env_file=None, data_dir=work / f"data-{device}", device=device)  # type: ignore[call-arg]
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        (settings.resolved_data_dir / "secret_key").write_text("canary")
        try:
            report = measure_sandbox(settings)
            print(f"1. [{device}] sandbox self-test: active={report.active}: {report.describe()}")
            loaded = start_network(
                settings, checkpoint, architecture=None, config=None, timeout=300
            )
        except Exception as exc:  # report it and go on: this script exists to find out
            print(f"   [{device}] executor failed: {type(exc).__name__}: {exc}")
            failed = True
            continue
        runs = args.runs if device == "cuda" else max(2, args.runs // 10)
        try:
            outputs[device], wall_ms = timed_renders(loaded, image, runs)
        finally:
            loaded.executor.close()
        raw_ms = raw_forward_ms(net, image, device, runs)
        print(
            f"3. [{device}] {params / 1e6:.1f} M params at {args.size}²: render through the "
            f"executor {wall_ms:.1f} ms (median of {runs}), raw forward here {raw_ms:.1f} ms, "
            f"ratio {wall_ms / raw_ms:.2f}×"
        )
    if {"cuda", "cpu"} <= outputs.keys():
        a = np.asarray(outputs["cuda"], dtype=np.int16)
        b = np.asarray(outputs["cpu"], dtype=np.int16)
        diff = np.abs(a - b)
        print(f"2. cuda vs cpu pixels: max {diff.max()} levels, mean {diff.mean():.4f}")
        failed |= int(diff.max()) > MAX_LEVELS
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
