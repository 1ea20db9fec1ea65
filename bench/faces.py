"""Face analysis cost: milliseconds per megapixel (target ≤ 150 ms/MP on the dev CPU), warm.

Run: .venv/bin/python bench/faces.py   (not run by the tests; no test asserts a duration)

Each size is the astronaut (scikit-image, one frontal face) scaled up; the first call of the
process builds the detector and mesh and is reported apart. Also: eye-mask generation time, and
the face pipeline's overhead beyond the network's own forward (target ≤ 20% at 512²): the
worker's per-photo work (analyse, cut, paste; ganstudio/inference/runner.py `_render_faces`)
against one forward of a small se-unet (the default config, base width 16) on the 512² crop.
"""

import statistics
import time

import numpy as np
from PIL import Image
from skimage import data

from ganstudio.faces import analyse_image, eye_mask
from ganstudio.faces.crops import cut, face_crop, paste

TARGET_MS_PER_MP = 150
TARGET_OVERHEAD = 0.20
PIPELINE_SIZE = 512
SIZES = (512, 1024, 2048, 4000)
RUNS = 5


def _median_ms(action, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    astronaut = Image.fromarray(data.astronaut())
    start = time.perf_counter()
    analyse_image(astronaut)
    first_ms = (time.perf_counter() - start) * 1000
    print(f"first call (imports mediapipe, builds the graphs): {first_ms:.0f} ms")
    print(f"analysis, median of {RUNS} warm runs (target ≤ {TARGET_MS_PER_MP} ms/MP):")
    for side in SIZES:
        image = astronaut.resize((side, side), Image.Resampling.BILINEAR)
        megapixels = side * side / 1e6
        faces = analyse_image(image).faces
        ms = _median_ms(lambda image=image: analyse_image(image))
        verdict = "ok" if ms / megapixels <= TARGET_MS_PER_MP else "OVER TARGET"
        print(
            f"  {side}×{side} ({megapixels:.2f} MP, {len(faces)} face): {ms:.1f} ms, "
            f"{ms / megapixels:.1f} ms/MP  {verdict}"
        )
    for side in (512, 4000):
        image = astronaut.resize((side, side), Image.Resampling.BILINEAR)
        faces = analyse_image(image).faces
        hard = _median_ms(lambda s=side, f=faces: eye_mask((s, s), f))
        soft = _median_ms(lambda s=side, f=faces: eye_mask((s, s), f, feather=0.15))
        print(f"eye mask {side}×{side}: {hard:.1f} ms hard edge, {soft:.1f} ms feathered")
    pipeline_overhead(astronaut)


def pipeline_overhead(astronaut: Image.Image) -> None:
    import torch

    import models

    size = PIPELINE_SIZE
    net = models.build("se-unet", {}).eval()
    crop = face_crop(analyse_image(astronaut).faces[0])
    sample = cut(astronaut, crop, size)
    tensor = torch.from_numpy(np.array(sample)).permute(2, 0, 1)[None].float() / 255

    def forward() -> None:
        with torch.inference_mode():
            net(tensor)

    def overhead() -> None:
        # What the worker does around the network for one face: find it, cut it, paste it.
        (face,) = analyse_image(astronaut).faces
        one = face_crop(face)
        paste(astronaut, cut(astronaut, one, size), one)

    forward()  # warm-up: first-call allocations are not the network's steady cost
    network_ms, pipeline_ms = _median_ms(forward), _median_ms(overhead)
    ratio = pipeline_ms / network_ms
    verdict = "ok" if ratio <= TARGET_OVERHEAD else "OVER TARGET"
    print(
        f"face pipeline at {size}² (threads {torch.get_num_threads()}): analyse + cut + paste "
        f"{pipeline_ms:.1f} ms, se-unet forward {network_ms:.1f} ms: overhead "
        f"{ratio:.0%} (target ≤ {TARGET_OVERHEAD:.0%})  {verdict}"
    )


if __name__ == "__main__":
    main()
