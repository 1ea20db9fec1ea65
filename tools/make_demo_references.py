"""Write the demo's reference (target) images: the toon target the demo filter was trained for.

Run from the repo root:  .venv/bin/python tools/make_demo_references.py

For each photo of the first-look set (ganstudio/demo_assets/samples/manifest.json) writes
`references/<stem>.png`: `toonify` of tools/train_demo.py (the very target v1, v2 and v2-se
learnt) applied to the photo at the filter's input size (longer side 256, what the network
sees). The demo attaches them, so its comparison shows PSNR/SSIM of each version against the
target it was trained for. Deterministic: the same photos give the same bytes.
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_demo import toonify

SAMPLES = Path(__file__).resolve().parents[1] / "ganstudio" / "demo_assets" / "samples"
LONGER_SIDE = 256  # the demo toon filter's input size (ganstudio/demo.py)


def reference_of(photo: Image.Image) -> Image.Image:
    """The toon target of a photo, at the filter's input size."""
    scale = LONGER_SIDE / max(photo.size)
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    pixels = np.asarray(photo.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    toon = toonify(pixels.astype(np.float32) / 255)  # (H, W, 3) in [0, 1]
    return Image.fromarray((toon * 255).round().astype(np.uint8), "RGB")


def main() -> None:
    out = SAMPLES / "references"
    out.mkdir(exist_ok=True)
    for entry in json.loads((SAMPLES / "manifest.json").read_text()):
        with Image.open(SAMPLES / entry["file"]) as photo:
            reference = reference_of(photo)
        path = out / f"{Path(entry['file']).stem}.png"
        reference.save(path, optimize=True)
        print(f"{path.relative_to(SAMPLES.parents[2])}: {reference.width}×{reference.height}")


if __name__ == "__main__":
    main()
