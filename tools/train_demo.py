"""Train three tiny demo versions of a toon filter on photos bundled with scikit-image.

Run from the repo root:  .venv/bin/python tools/train_demo.py

Writes v1 / v2 / v2-se `.safetensors` checkpoints (architecture key and config in the metadata)
and `versions.json` (label, parent, branch, notes, architecture, config). Deterministic for a
given --seed on the same torch build and thread count; about 2-3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage import color, data, filters, morphology, restoration, transform, util
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from models import build, config_to_dict, save_checkpoint

# Photos that ship inside the scikit-image wheel (no pooch download needed).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")
SCALES = (256, 384)  # longer side of each training image, in pixels
CROP = 64
BATCH = 8
ARCH = "se-unet"
CHECKPOINTS_DIR = "ganstudio/demo_assets/checkpoints"


@dataclass
class Pair:
    """One photo and its procedural toon target, both float32 (H, W, 3) in [0, 1]."""

    photo: np.ndarray
    toon: np.ndarray


def load_photo(name: str, longer_side: int) -> np.ndarray:
    """Load a bundled scikit-image photo as float32 RGB with the given longer side."""
    image = getattr(data, name)()
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle -> left view
    image = util.img_as_float32(image)
    scale = longer_side / max(image.shape[:2])
    size = (round(image.shape[0] * scale), round(image.shape[1] * scale))
    return transform.resize(image, size, anti_aliasing=True).astype(np.float32)


def toonify(photo: np.ndarray, levels: int = 7) -> np.ndarray:
    """Cel-shade a photo: bilateral smoothing, banded lightness, richer colour, dark outlines."""
    smooth = photo
    for _ in range(2):
        smooth = restoration.denoise_bilateral(
            smooth, sigma_color=0.07, sigma_spatial=2, win_size=7, channel_axis=-1
        )
    lab = color.rgb2lab(smooth)
    lightness = lab[..., 0]
    step = 100 / levels
    banded = (np.floor(lightness / step) + 0.5) * step
    lab[..., 0] = np.clip(0.75 * banded + 0.25 * lightness + 3, 0, 100)
    lab[..., 1:] *= 1.35  # a little more saturated than the photo
    toon = np.clip(color.lab2rgb(lab), 0, 1)
    edge = filters.sobel(filters.gaussian(color.rgb2gray(smooth), 0.8))
    outline = edge > np.percentile(edge, 90)
    outline = morphology.remove_small_objects(outline, max_size=10)
    outline = ndimage.binary_dilation(outline, ndimage.generate_binary_structure(2, 1))
    toon[outline] *= 0.15
    return toon.astype(np.float32)


def make_pairs() -> list[Pair]:
    """Build (photo, toon) pairs for every bundled photo at every training scale."""
    pairs = []
    for name in PHOTOS:
        for side in SCALES:
            photo = load_photo(name, side)
            pairs.append(Pair(photo, toonify(photo)))
    return pairs


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) in [0, 1] -> (B, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous() * 2 - 1


def sample_batch(pairs: list[Pair], rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 64x64 crops with random horizontal flips, the same on photo and target."""
    photos, toons = [], []
    for _ in range(BATCH):
        pair = pairs[rng.integers(len(pairs))]
        top = rng.integers(pair.photo.shape[0] - CROP + 1)
        left = rng.integers(pair.photo.shape[1] - CROP + 1)
        window = (slice(top, top + CROP), slice(left, left + CROP))
        photo, toon = pair.photo[window], pair.toon[window]
        if rng.random() < 0.5:
            photo, toon = photo[:, ::-1], toon[:, ::-1]
        photos.append(photo)
        toons.append(toon)
    return to_tensor(np.stack(photos)), to_tensor(np.stack(toons))


class PatchDiscriminator(nn.Module):
    """Tiny conditional PatchGAN: scores (photo, image) pairs per 16x16 patch."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(6, width, 4, stride=2, padding=1),  # (B, w, H/2, W/2)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (B, 2w, H/4, W/4)
            nn.InstanceNorm2d(2 * width, affine=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 3, padding=1),  # (B, 1, H/4, W/4)
        )

    def forward(self, photo: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Return patch logits for image given photo."""
        return self.net(torch.cat([photo, image], dim=1))


def train(
    net_g: nn.Module,
    pairs: list[Pair],
    steps: int,
    lr: float,
    rng: np.random.Generator,
    adv_weight: float,
) -> float:
    """Train net_g with L1 (+ LSGAN if adv_weight > 0); return the mean L1 of the last 50 steps."""
    net_g.train()
    net_g.to(memory_format=torch.channels_last)  # ~30% faster depthwise convs on CPU
    opt_g = torch.optim.Adam(net_g.parameters(), lr=lr, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, steps, eta_min=lr / 20)
    net_d = PatchDiscriminator() if adv_weight > 0 else None
    opt_d = torch.optim.Adam(net_d.parameters(), lr=lr, betas=(0.5, 0.999)) if net_d else None
    recent: list[float] = []
    for step in range(steps):
        photo, target = sample_batch(pairs, rng)
        photo = photo.to(memory_format=torch.channels_last)
        fake = net_g(photo)
        l1 = (fake - target).abs().mean()
        loss = l1
        if net_d is not None and opt_d is not None:
            loss = loss + adv_weight * ((net_d(photo, fake) - 1) ** 2).mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        sched.step()
        if net_d is not None and opt_d is not None:
            real_score = net_d(photo, target)
            fake_score = net_d(photo, fake.detach())
            loss_d = ((real_score - 1) ** 2).mean() + (fake_score**2).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        recent = [*recent[-49:], l1.item()]
        if (step + 1) % 100 == 0:
            print(f"  step {step + 1}/{steps}  L1 {np.mean(recent):.4f}", flush=True)
    return float(np.mean(recent))


def run_full(net: nn.Module, photo: np.ndarray) -> np.ndarray:
    """Run net on a whole (H, W, 3) photo, padding to the net's stride; return (H, W, 3)."""
    height, width = photo.shape[:2]
    pad_h, pad_w = -height % net.stride, -width % net.stride
    padded = np.pad(photo, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    net.eval()
    with torch.inference_mode():
        out = net(to_tensor(padded[None]))[0]  # (3, H', W')
    return ((out.permute(1, 2, 0).numpy() + 1) / 2)[:height, :width].clip(0, 1)


def validation_l1(net: nn.Module, pairs: list[Pair]) -> float:
    """Mean L1 (in [-1, 1] units) of net on the whole 256-px images against their toon targets."""
    errors = [
        2 * np.abs(run_full(net, p.photo) - p.toon).mean()
        for p in pairs
        if max(p.photo.shape[:2]) == SCALES[0]
    ]
    return float(np.mean(errors))


def branch_init(net: nn.Module, parent: nn.Module) -> int:
    """Copy parent tensors whose name and shape match into net; start SE gates near 1."""
    own = net.state_dict()
    shared = {k: v for k, v in parent.state_dict().items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(shared, strict=False)
    for name, module in net.named_modules():
        if name.endswith(".se"):
            nn.init.normal_(module.fc2.weight, std=0.01)
            nn.init.constant_(module.fc2.bias, 2.5)  # hardsigmoid(2.5) ~ 0.92: near-identity
    return len(shared)


def save_version(
    out: Path,
    label: str,
    net: nn.Module,
    *,
    parent: str | None,
    branch: str,
    notes: str,
    metrics: dict[str, float],
) -> dict[str, object]:
    """Write a version's checkpoint into `out`; return its entry of versions.json (with the
    training numbers the demo pushes as the version's metrics)."""
    save_checkpoint(out / f"{label}.safetensors", net, ARCH, net.config)
    return {
        "label": label,
        "parent": parent,
        "branch": branch,
        "file": f"{label}.safetensors",
        "architecture": ARCH,
        "config": config_to_dict(net.config),
        "notes": notes,
        "metrics": metrics,
    }


def write_manifest(out: Path, index: dict[str, object]) -> None:
    """Write versions.json, the list the demo seeds its versions from."""
    (out / "versions.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")


def save_preview(path: Path, nets: dict[str, nn.Module], pairs: list[Pair]) -> None:
    """Save a grid: rows = photos, columns = input | each version | toon target."""
    from PIL import Image

    rows = []
    for pair in pairs:
        if max(pair.photo.shape[:2]) != SCALES[0]:
            continue
        photo = pair.photo[:160, :160]  # top-left: the astronaut's face, the cat's eye
        cells = [photo, *(run_full(net, photo) for net in nets.values()), toonify(photo)]
        rows.append(np.concatenate(cells, axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray((grid * 255).round().astype(np.uint8)).save(path)
    print(f"preview columns: input | {' | '.join(nets)} | target -> {path}")


def main() -> None:
    """Parse arguments, train v1, v2 and v2-se, write checkpoints and versions.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(CHECKPOINTS_DIR))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps-v1", type=int, default=150)
    parser.add_argument("--steps-more", type=int, default=600, help="steps for v2 and v2-se")
    parser.add_argument("--base-width", type=int, default=16)
    parser.add_argument("--adv", action="store_true", help="add a PatchGAN (LSGAN) term")
    parser.add_argument("--adv-weight", type=float, default=0.02)
    parser.add_argument("--preview", type=Path, help="also save a comparison PNG here")
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    pairs = make_pairs()
    print(f"{len(pairs)} training pairs from {', '.join(PHOTOS)}", flush=True)
    adv_weight = args.adv_weight if args.adv else 0.0
    loss_text = f"L1 + {adv_weight} × LSGAN (tiny PatchGAN)" if args.adv else "L1 loss"
    data_text = (
        f"batch {BATCH} random {CROP}×{CROP} crops with horizontal flips from "
        f"{len(PHOTOS)} scikit-image photos at {' and '.join(map(str, SCALES))} px "
        "(target: bilateral smoothing, banded lightness, dark Sobel outlines), "
        f"Adam with cosine decay, seed {args.seed}"
    )
    plain = {"base_width": args.base_width, "depth": 3, "use_se": False}
    versions = []
    nets: dict[str, nn.Module] = {}

    def finish(
        label: str, net: nn.Module, parent: str | None, branch: str, how: str, l1: float, step: int
    ):
        val = validation_l1(net, pairs)
        notes = f"{how} Loss at the end: train L1 {l1:.4f} (mean of last 50 steps), "
        notes += f"L1 on the five training photos, whole, at 256 px {val:.4f} (images in [-1, 1])."
        metrics = {"step": step, "train_l1": round(l1, 4), "val_l1": round(val, 4)}
        versions.append(
            save_version(
                args.out, label, net, parent=parent, branch=branch, notes=notes, metrics=metrics
            )
        )
        nets[label] = net
        print(f"{label}: train L1 {l1:.4f}, val L1 {val:.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    print("v1", flush=True)
    v1 = build(ARCH, plain)
    l1 = train(v1, pairs, args.steps_v1, 2e-3, rng, adv_weight)
    how = (
        f"Trained from scratch for {args.steps_v1} steps with {loss_text}, lr 2e-3; "
        f"{data_text}. SE-U-Net without Squeeze-and-Excitation (`use_se=false`)."
    )
    finish("v1", v1, None, "main", how, l1, args.steps_v1)

    print("v2", flush=True)
    v2 = build(ARCH, plain)
    v2.load_state_dict(v1.state_dict())
    l1 = train(v2, pairs, args.steps_more, 1e-3, rng, adv_weight)
    how = (
        f"Continues v1 for {args.steps_more} more steps ({args.steps_v1 + args.steps_more} "
        f"in all) with {loss_text}, lr 1e-3; same data and architecture as v1."
    )
    finish("v2", v2, "v1", "main", how, l1, args.steps_v1 + args.steps_more)

    print("v2-se", flush=True)
    v2_se = build(ARCH, {**plain, "use_se": True})
    copied = branch_init(v2_se, v1)
    l1 = train(v2_se, pairs, args.steps_more, 1e-3, rng, adv_weight)
    how = (
        f"Branch from v1 that adds Squeeze-and-Excitation gates (`use_se=true`, reduction 4): "
        f"{copied} tensors copied from v1, SE gates started near 1, then trained "
        f"{args.steps_more} steps with {loss_text}, lr 1e-3; same data as v1."
    )
    finish("v2-se", v2_se, "v1", "se", how, l1, args.steps_v1 + args.steps_more)

    command = (
        f".venv/bin/python tools/train_demo.py --out {CHECKPOINTS_DIR} --seed {args.seed} "
        f"--steps-v1 {args.steps_v1} --steps-more {args.steps_more} --base-width {args.base_width}"
    )
    if args.adv:
        command += f" --adv --adv-weight {args.adv_weight}"
    index = {"generated_by": command, "versions": versions}
    write_manifest(args.out, index)
    if args.preview:
        save_preview(args.preview, nets, pairs)
    print(f"done in {time.perf_counter() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
