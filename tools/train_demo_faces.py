"""Train the demo face filter `toon-face`: the toon look on aligned face crops, eyes kept crisp.

Run from the repo root:  .venv/bin/python tools/train_demo_faces.py

The faces are the three in the demo's shipped samples (astronaut, cameraman, generated portrait),
found by GAN Studio's own analysis and cut exactly as the face pipeline cuts them
(`ganstudio.faces.crops`), at the filter's input size, then augmented: small rotations, scales
and shifts of the crop, horizontal flips and colour jitter. The target is the toon look of
`tools/train_demo.py` with the eye regions (the eye mask from landmarks, softened) left as the
photo, so a network that knows where the eyes are can keep them crisp.

Writes v1 / v2 (3-channel) and v2-eyes (4-channel: RGB + the crop's eye mask, as the face
pipeline passes it) to `ganstudio/demo_assets/checkpoints/faces/` with `versions.json`.
Deterministic for a given --seed on the same torch build and thread count.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "tools"))

from train_demo import ARCH, save_version, toonify, write_manifest  # noqa: E402  (the same toon look as the `toon` filter)

from ganstudio.faces import analyse_image, eye_mask  # noqa: E402
from ganstudio.faces.crops import Crop, cut, face_crop  # noqa: E402
from models import build  # noqa: E402

SAMPLES_DIR = ROOT / "ganstudio" / "demo_assets" / "samples"
# The shipped demo photos with a face the detector finds (the cat, coffee and rocket have none).
FACE_PHOTOS = ("astronaut.jpg", "cameraman.jpg", "generated-portrait.jpg")
SIZE = 128  # the filter's input size: every crop reaches the network at SIZE×SIZE
VARIANTS = 16  # augmented crops per face
BATCH = 8
WINDOW = 64  # training sees random WINDOW² windows of the crops: a quarter of the cost per image
CHECKPOINTS_DIR = "ganstudio/demo_assets/checkpoints/faces"


@dataclass
class Example:
    """One face crop: photo and target (SIZE, SIZE, 3) in [0, 1]; eyes (SIZE, SIZE) in [0, 1]."""

    photo: np.ndarray
    eyes: np.ndarray
    target: np.ndarray


def jittered(crop: Crop, rng: np.random.Generator) -> Crop:
    """The crop turned by up to ±8°, scaled by 0.9–1.15 and shifted by up to 5% of its side."""
    side = crop.side * rng.uniform(0.9, 1.15)
    shift = rng.uniform(-0.05, 0.05, size=2) * crop.side
    return Crop(
        centre=(crop.centre[0] + shift[0], crop.centre[1] + shift[1]),
        side=side,
        angle=crop.angle + rng.uniform(-math.radians(8), math.radians(8)),
    )


def colour_jitter(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and a slight colour cast, each within about ±15%."""
    gain = rng.uniform(0.85, 1.15) * rng.uniform(0.93, 1.07, size=3)
    mean = photo.mean()
    contrast = rng.uniform(0.85, 1.15)
    return np.clip((photo - mean) * contrast + mean * gain, 0, 1).astype(np.float32)


def example(photo: np.ndarray, eyes: np.ndarray) -> Example:
    """The toon target of a crop, its eyes (mask softened by a 1.5 px blur) left as the photo."""
    soft = np.clip(ndimage.gaussian_filter(eyes, 1.5), 0, 1)[..., None]
    target = toonify(photo) * (1 - soft) + photo * soft
    return Example(photo, eyes, target.astype(np.float32))


def make_examples(rng: np.random.Generator) -> tuple[list[Example], list[Example]]:
    """Return (augmented training crops, the plain crop of each face for validation)."""
    train, plain = [], []
    for name in FACE_PHOTOS:
        image = Image.open(SAMPLES_DIR / name).convert("RGB")
        analysis = analyse_image(image)
        if not analysis.faces:
            raise SystemExit(f"no face found in {name}: the detector or the sample changed")
        mask = eye_mask(image.size, analysis.faces)  # as the face pipeline makes it
        for face in analysis.faces:
            crop = face_crop(face)
            for variant in range(VARIANTS + 1):
                this = crop if variant == 0 else jittered(crop, rng)
                photo = np.asarray(cut(image, this, SIZE), dtype=np.float32) / 255
                eyes = np.asarray(cut(mask, this, SIZE), dtype=np.float32) / 255
                if variant == 0:
                    plain.append(example(photo, eyes))
                    continue
                if rng.random() < 0.5:
                    photo, eyes = photo[:, ::-1], eyes[:, ::-1]
                train.append(example(colour_jitter(np.ascontiguousarray(photo), rng), eyes))
    return train, plain


def to_tensor(examples: list[Example], channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, channels, H, W) inputs and (B, 3, H, W) targets in [-1, 1]; channel 4 is the mask."""
    planes = [np.dstack([e.photo, e.eyes[..., None]])[..., :channels] for e in examples]
    inputs = torch.from_numpy(np.stack(planes)).permute(0, 3, 1, 2).contiguous() * 2 - 1
    targets = np.stack([e.target for e in examples])
    return inputs, torch.from_numpy(targets).permute(0, 3, 1, 2).contiguous() * 2 - 1


def train(
    net: nn.Module, examples: list[Example], steps: int, lr: float, rng: np.random.Generator
) -> float:
    """Train with L1 on random windows of the crops; return the mean L1 of the last 50 steps."""
    channels = net.config.in_channels
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20)
    recent: list[float] = []
    for step in range(steps):
        batch = [examples[i] for i in rng.integers(len(examples), size=BATCH)]
        inputs, targets = to_tensor(batch, channels)
        top, left = rng.integers(SIZE - WINDOW + 1, size=2)
        window = (..., slice(top, top + WINDOW), slice(left, left + WINDOW))
        inputs, targets = inputs[window], targets[window]
        l1 = (net(inputs) - targets).abs().mean()
        opt.zero_grad()
        l1.backward()
        opt.step()
        sched.step()
        recent = [*recent[-49:], l1.item()]
        if (step + 1) % 100 == 0:
            print(f"  step {step + 1}/{steps}  L1 {np.mean(recent):.4f}", flush=True)
    return float(np.mean(recent))


def validation(net: nn.Module, plain: list[Example]) -> tuple[float, float]:
    """L1 (in [-1, 1] units) on the plain crops: over the whole crop, and inside the eye mask."""
    net.eval()
    inputs, targets = to_tensor(plain, net.config.in_channels)
    with torch.inference_mode():
        error = (net(inputs) - targets).abs().mean(dim=1)  # (B, H, W)
    eyes = torch.from_numpy(np.stack([e.eyes for e in plain])) > 0.5
    return float(error.mean()), float(error[eyes].mean())


def branch_to_four_channels(net: nn.Module, parent: nn.Module) -> int:
    """Copy the 3-channel parent into a 4-channel net: every tensor, the first conv's weights
    for RGB too, with the mask channel's weights starting at 0 (the parent's output, at first)."""
    own = net.state_dict()
    copied = 0
    for key, value in parent.state_dict().items():
        if own[key].shape == value.shape:
            own[key] = value.clone()
        else:  # the stem's conv: (out, 3, k, k) -> (out, 4, k, k)
            own[key] = torch.zeros_like(own[key])
            own[key][:, :3] = value
        copied += 1
    net.load_state_dict(own)
    return copied


def save_preview(path: Path, nets: dict[str, nn.Module], plain: list[Example]) -> None:
    """Save a grid: rows = faces, columns = input | each version | target."""
    rows = []
    for ex in plain:
        cells = [ex.photo]
        for net in nets.values():
            inputs, _ = to_tensor([ex], net.config.in_channels)
            with torch.inference_mode():
                out = net(inputs)[0].permute(1, 2, 0).numpy()
            cells.append(((out + 1) / 2).clip(0, 1))
        rows.append(np.concatenate([*cells, ex.target], axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray((grid * 255).round().astype(np.uint8)).save(path)
    print(f"preview columns: input | {' | '.join(nets)} | target -> {path}")


def make_group_photo(path: Path) -> None:
    """Tile three heads into one photo (the astronaut, the portrait, the astronaut mirrored) so
    the demo has a photo with several faces; offline and deterministic."""
    from PIL import ImageOps

    astronaut = Image.open(SAMPLES_DIR / "astronaut.jpg").convert("RGB").crop((120, 10, 330, 260))
    portrait = Image.open(SAMPLES_DIR / "generated-portrait.jpg").convert("RGB")
    portrait = portrait.resize(
        (portrait.width * 250 // portrait.height, 250), Image.Resampling.LANCZOS
    )
    tiles = [astronaut, portrait, ImageOps.mirror(astronaut)]
    group = Image.new("RGB", (sum(t.width for t in tiles), 250))
    left = 0
    for tile in tiles:
        group.paste(tile, (left, 0))
        left += tile.width
    group.save(path, quality=88)
    found = len(analyse_image(Image.open(path)).faces)
    print(f"group photo with {found} faces found -> {path}")


def main() -> None:
    """Parse arguments, train v1, v2 and v2-eyes, write checkpoints and versions.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(CHECKPOINTS_DIR))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps-v1", type=int, default=100)
    parser.add_argument("--steps-more", type=int, default=200, help="steps for v2 and v2-eyes")
    parser.add_argument("--base-width", type=int, default=8)
    parser.add_argument("--preview", type=Path, help="also save a comparison PNG here")
    parser.add_argument("--group-photo", type=Path, help="only write the tiled group photo here")
    args = parser.parse_args()
    if args.group_photo:
        make_group_photo(args.group_photo)
        return

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    examples, plain = make_examples(rng)
    print(f"{len(examples)} training crops of {len(plain)} faces", flush=True)
    data_text = (
        f"batch {BATCH} random {WINDOW}×{WINDOW} windows of {SIZE}×{SIZE} face crops "
        "(cut as the face pipeline cuts them) "
        f"from the {len(plain)} faces of the demo samples {', '.join(FACE_PHOTOS)}, "
        f"{VARIANTS} augmented crops each (±8° turns, 0.9–1.15 scales, 5% shifts, flips, colour "
        "jitter); target: the toon look of the `toon` filter with the eyes (eye mask, "
        f"softened) kept as the photo; Adam with cosine decay, seed {args.seed}"
    )
    plain_config = {"base_width": args.base_width, "depth": 3, "use_se": False}
    versions = []
    nets: dict[str, nn.Module] = {}

    def finish(
        label: str, net: nn.Module, parent: str | None, branch: str, how: str, l1: float, step: int
    ):
        whole, eyes = validation(net, plain)
        notes = f"{how} Loss at the end: train L1 {l1:.4f} (mean of last 50 steps); L1 on the "
        notes += f"plain crops of the {len(plain)} faces {whole:.4f}, inside the eyes {eyes:.4f} "
        notes += "(images in [-1, 1])."
        metrics = {
            "step": step,
            "train_l1": round(l1, 4),
            "val_l1": round(whole, 4),
            "val_l1_eyes": round(eyes, 4),
        }
        versions.append(
            save_version(
                args.out, label, net, parent=parent, branch=branch, notes=notes, metrics=metrics
            )
        )
        nets[label] = net
        print(f"{label}: train L1 {l1:.4f}, val L1 {whole:.4f}, in the eyes {eyes:.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    print("v1", flush=True)
    v1 = build(ARCH, plain_config)
    l1 = train(v1, examples, args.steps_v1, 2e-3, rng)
    how = (
        f"Trained from scratch for {args.steps_v1} steps with L1 loss, lr 2e-3; {data_text}. "
        "RGB only: it has to guess where the eyes are."
    )
    finish("v1", v1, None, "main", how, l1, args.steps_v1)

    print("v2", flush=True)
    v2 = build(ARCH, plain_config)
    v2.load_state_dict(v1.state_dict())
    l1 = train(v2, examples, args.steps_more, 1e-3, rng)
    how = (
        f"Continues v1 for {args.steps_more} more steps ({args.steps_v1 + args.steps_more} in "
        "all) with L1 loss, lr 1e-3; same data and architecture as v1."
    )
    finish("v2", v2, "v1", "main", how, l1, args.steps_v1 + args.steps_more)

    print("v2-eyes", flush=True)
    v2_eyes = build(ARCH, {**plain_config, "in_channels": 4})
    copied = branch_to_four_channels(v2_eyes, v1)
    l1 = train(v2_eyes, examples, args.steps_more, 1e-3, rng)
    how = (
        "Branch from v1 with a 4th input channel: the crop's eye mask from landmarks (as the "
        f"face pipeline passes it). {copied} tensors copied from v1, the mask channel's weights "
        f"started at 0, then trained {args.steps_more} steps with L1 loss, lr 1e-3; same data "
        "as v1."
    )
    finish("v2-eyes", v2_eyes, "v1", "eyes", how, l1, args.steps_v1 + args.steps_more)

    command = (
        f".venv/bin/python tools/train_demo_faces.py --out {CHECKPOINTS_DIR} --seed {args.seed} "
        f"--steps-v1 {args.steps_v1} --steps-more {args.steps_more} --base-width {args.base_width}"
    )
    index = {"generated_by": command, "input_size": SIZE, "versions": versions}
    write_manifest(args.out, index)
    if args.preview:
        save_preview(args.preview, nets, plain)
    print(f"done in {time.perf_counter() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
