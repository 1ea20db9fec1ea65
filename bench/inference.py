"""Benchmark the render engine against naive scripts; prints ratios measured in one run.

    .venv/bin/python bench/inference.py [--samples 16] [--versions 3] [--size 512]

1. job throughput: N samples × V versions through the persisted queue and worker, against a
   naive loop (PIL → tensor → network → PNG, same thread count), images per second;
2. web test over HTTP against the same network's raw forward on the same image in-process;
3. a cached comparison page of 100 samples × 4 versions: median server time, first-load bytes;
4. page latency while a job runs: p99 of 50 concurrent page loads.
Machines are shared and noisy: compare the ratios, not the absolute numbers, across runs.
"""

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models
from ganstudio.app import create_app
from ganstudio.roles import Role
from tests.conftest import make_settings
from tests.factories import (
    bearer,
    make_filter,
    make_sample,
    make_token,
    make_user,
    make_version,
)


def photo(seed: int, size: int) -> bytes:
    """A smooth, photo-like test image (noise would favour no one)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / size
    planes = [np.sin(xs * rng.uniform(2, 9) + ys * rng.uniform(2, 9) + rng.uniform(0, 6))
              for _ in range(3)]
    pixels = ((np.stack(planes, axis=2) + 1) * 127.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_versions(folder: Path, count: int) -> list[Path]:
    paths = []
    for n in range(count):
        torch.manual_seed(n)
        net = models.build("se-unet", {"base_width": 16, "depth": 3, "use_se": n % 2 == 1})
        path = folder / f"v{n}.safetensors"
        models.save_checkpoint(path, net, "se-unet", net.config)
        paths.append(path)
    return paths


def naive_loop(checkpoints: list[Path], images: list[bytes], size: int, out: Path) -> float:
    """What a developer's script does: per image, decode, normalise, run, encode a PNG."""
    start = time.perf_counter()
    for path in checkpoints:
        net = models.load_checkpoint(path)
        for n, data in enumerate(images):
            image = Image.open(io.BytesIO(data)).convert("RGB").resize((size, size))
            x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1)
            with torch.no_grad():
                y = net(x.permute(2, 0, 1)[None])
            pixels = ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
            Image.fromarray(pixels).save(out / f"{path.stem}-{n}.png")
    return time.perf_counter() - start


def job_throughput(args: argparse.Namespace, work: Path) -> None:
    checkpoints = write_versions(work, args.versions)
    images = [photo(n, args.size) for n in range(args.samples)]
    (work / "naive").mkdir()
    naive_s = naive_loop(checkpoints, images, args.size, work / "naive")

    app = create_app(make_settings(work / "data"))
    slug = make_filter(app, input_size=args.size)
    for n, path in enumerate(checkpoints):
        make_version(app, filter_slug=slug, label=f"v{n}", checkpoint=path)
    sample_ids = [make_sample(app, data, f"{n}.jpg") for n, data in enumerate(images)]
    make_user(app, role=Role.VIEWER, name="bench")
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        client.post("/api/v1/comparisons", headers=bearer(make_token(app, name="bench")), json={
            "filter": slug, "versions": [f"v{n}" for n in range(args.versions)],
            "samples": sample_ids})
    start = time.perf_counter()
    ran = app.state.worker.run_until_idle()
    worker_s = time.perf_counter() - start
    count = args.samples * args.versions
    assert ran == count, (ran, count)
    naive_ips, worker_ips = count / naive_s, count / worker_s
    print(f"1. job of {args.samples} samples × {args.versions} versions at {args.size}²: "
          f"worker {worker_ips:.2f} img/s, naive loop {naive_ips:.2f} img/s, "
          f"ratio {worker_ips / naive_ips:.2f}× (target ≥ 1.3×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        job_throughput(args, Path(tmp))


if __name__ == "__main__":
    main()
