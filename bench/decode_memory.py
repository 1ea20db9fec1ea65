"""Peak memory of probing and decoding wide-mode images (float, 32- and 16-bit TIFFs).

    python bench/decode_memory.py [--megapixels 40 30 12]

Each case runs in a fresh child process, so one case's freed memory does not hide another's
peak: the child reads the file, runs `probe_image` then `load_rgb`, and reports its peak RSS
(VmHWM, Linux; Pillow's buffers are C memory that tracemalloc does not see) above that of a
child that only imports and reads the file. For numbers before a change, run the same script
with `PYTHONPATH=/path/to/old/checkout`.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import io, json, sys, time
from ganstudio.storage.images import ImageRejectedError, load_rgb, probe_image
data = open(sys.argv[1], "rb").read()
started = time.perf_counter()
outcome = "read only"
if sys.argv[2] == "decode":
    try:
        probe_image(io.BytesIO(data), max_pixels=40_000_000)
        image = load_rgb(data, max_pixels=40_000_000)
        outcome = f"decoded to {image.mode} {image.width}x{image.height}"
    except ImageRejectedError as exc:
        outcome = f"refused: {str(exc)[:100]}"
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak_kib = int(status.split()[0])
print(json.dumps({"peak_mb": peak_kib / 1024, "seconds": time.perf_counter() - started,
                  "outcome": outcome}))
"""

# (label, mode, value): a flat image compresses to almost nothing, the way a hostile one does.
CASES = (
    ("float 0-1", "F", 0.5),
    ("32-bit int", "I", 40000),
    ("16-bit int", "I;16", 40000),
    ("8-bit RGB", "RGB", (200, 30, 30)),
)


def make_tiff(path: Path, mode: str, value: object, megapixels: float) -> int:
    """Write a deflate-compressed TIFF of about `megapixels`; return its size in bytes."""
    from PIL import Image

    width = 8000
    height = round(megapixels * 1_000_000 / width)
    Image.new(mode, (width, height), value).save(path, format="TIFF", compression="tiff_deflate")
    return path.stat().st_size


def run_child(path: Path, step: str) -> dict:
    """Run CHILD on `path` ("read": import and read only; "decode": probe and load too)."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), step], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[40, 30, 12])
    args = parser.parse_args()
    print(f"{'image':<22} {'file':>9} {'RSS rise':>10} {'time':>7}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for megapixels in args.megapixels:
            for label, mode, value in CASES:
                path = Path(tmp) / "image.tiff"
                size = make_tiff(path, mode, value, megapixels)
                base, row = (run_child(path, step) for step in ("read", "decode"))
                print(
                    f"{megapixels:>4.0f} MP {label:<14} {size / 1024:>6.0f} KiB "
                    f"{row['peak_mb'] - base['peak_mb']:>7.0f} MB {row['seconds']:>6.2f}s  "
                    f"{row['outcome']}"
                )


if __name__ == "__main__":
    main()
