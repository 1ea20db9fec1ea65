"""Face analysis cost: milliseconds per megapixel (target ≤ 150 ms/MP on the dev CPU), warm.

Run: .venv/bin/python bench/faces.py   (not run by the tests; no test asserts a duration)

Each size is the astronaut (scikit-image, one frontal face) scaled up; the first call of the
process builds the detector and mesh and is reported apart. Also: eye-mask generation time.
"""

import statistics
import time

from PIL import Image
from skimage import data

from ganstudio.faces import analyse_image, eye_mask

TARGET_MS_PER_MP = 150
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


if __name__ == "__main__":
    main()
