"""PNG encoders for renders: Pillow, OpenCV's libpng and ours (strips on threads); ms and KB.

    .venv/bin/python bench/png_encode.py [--size 1024]

Renders are stored as lossless PNG (storage/images.png_bytes, fast=True); on a GPU server the
encode costs more than the forward pass, so its speed decides a web test's latency.
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganstudio.storage import png
from ganstudio.storage.images import png_bytes


def toon_like(size: int) -> Image.Image:
    """Smooth gradients quantised into flat bands, with a little noise: like a toon output."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:size, 0:size] / size
    planes = np.stack([np.sin(xs * 7 + ys * 3), np.sin(xs * 2 + ys * 9), np.sin(xs * 5)], 2)
    pixels = np.round((planes + 1) * 4) * 31 + rng.normal(0, 1.5, planes.shape)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def timed(encode, runs: int = 7) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(encode())
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, size // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    image = toon_like(args.size)

    def pillow() -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    def opencv() -> bytes:
        import cv2

        bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
        return cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()

    pil_ms, pil_kb = timed(pillow)
    cv_ms, cv_kb = timed(opencv)
    fast_ms, fast_kb = timed(lambda: png_bytes(image, fast=True))
    decoded = Image.open(io.BytesIO(png_bytes(image, fast=True))).convert("RGB")
    assert decoded.tobytes() == image.tobytes(), "the fast PNG is not lossless"
    print(f"{args.size}², {png.THREADS} threads: Pillow level 1 {pil_ms:.1f} ms, {pil_kb} KB; "
          f"OpenCV level 1 {cv_ms:.1f} ms, {cv_kb} KB; png_bytes(fast=True) {fast_ms:.1f} ms, "
          f"{fast_kb} KB: {pil_ms / fast_ms:.2f}× Pillow's speed, {cv_ms / fast_ms:.2f}× "
          f"OpenCV's (lossless: checked)")  # fmt: skip


if __name__ == "__main__":
    main()
