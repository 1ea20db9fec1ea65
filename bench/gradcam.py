"""Grad-CAM cost against the forward pass of the same network at the same size (target ≤ 3×).

Run: .venv/bin/python bench/gradcam.py [--device cuda] [--size 512]
(not run by the tests; no test asserts a duration)

For each network: the median of warm runs of a render's forward (inference mode, channels-last,
as executors run it) and of a Grad-CAM map of the eye-sized region at the default layer, plus
input-gradient saliency (the TorchScript fallback) and a feature-map grid, as ratios measured
in one run. The networks are se-unets: the demo's light face filter (base width 16, depth 3),
and a 6.2 M-parameter one (base width 64, depth 4).
"""

import argparse
import statistics
import time

import torch

import models
from ganstudio.inference.attention import attention_map, feature_maps
from ganstudio.inference.layers import architecture_layers

TARGET = 3.0
RUNS = 5
NETWORKS = {
    "se-unet 16/3 (light face filter)": {"base_width": 16, "depth": 3},
    "se-unet 64/4 (6.2 M)": {"base_width": 64, "depth": 4},
}


def _medians_ms(actions: dict, device: torch.device, runs: int = RUNS) -> dict[str, float]:
    """Median wall time of each action, run round-robin so load on a shared machine hits all
    of them alike (the ratios are what this reports)."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for run in range(runs + 1):  # the first round warms up: kernels chosen, memory allocated
        for name, action in actions.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            action()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if run:
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(config: dict, device: torch.device, side: int) -> dict:
    """Time one network's forward, Grad-CAM, saliency and feature maps; return the row."""
    net = models.build("se-unet", config).eval().to(device, memory_format=torch.channels_last)
    x = (torch.rand(1, 3, side, side, device=device) * 2 - 1).to(memory_format=torch.channels_last)
    region = torch.zeros(side, side)
    region[side * 3 // 8 : side // 2, side // 4 : side * 3 // 4] = 1  # a band of eyes
    layer = architecture_layers("se-unet", config)[0].name  # the default comes first

    def forward() -> None:
        with torch.inference_mode():
            net(x)

    scripted = torch.jit.trace(net, x[:, :, :64, :64])
    row: dict = _medians_ms(
        {
            "forward": forward,
            "cam": lambda: attention_map(net, x, region, layer=layer),
            "saliency": lambda: attention_map(scripted, x, region, layer=None),
            "features": lambda: feature_maps(net, x, layer=layer, top=16),
        },
        device,
    )
    row.update(params=sum(p.numel() for p in net.parameters()) / 1e6, layer=layer)
    row["ratio"] = row["cam"] / row["forward"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    device, side = torch.device(args.device), args.size
    torch.manual_seed(0)
    print(f"device {device}, input {side}×{side}, median of {RUNS} warm runs")
    print(f"{'network':34} {'params':>7} {'forward':>9} {'grad-cam':>9} {'ratio':>6} "
          f"{'saliency':>9} {'features':>9}")  # fmt: skip
    worst = 0.0
    for name, config in NETWORKS.items():
        row = measure(config, device, side)
        worst = max(worst, row["ratio"])
        print(f"{name:34} {row['params']:6.2f}M {row['forward']:7.1f}ms {row['cam']:7.1f}ms "
              f"{row['ratio']:5.2f}× {row['saliency']:7.1f}ms {row['features']:7.1f}ms   "
              f"(default layer {row['layer']})")  # fmt: skip
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"Grad-CAM / forward, worst: {worst:.2f}× (target ≤ {TARGET:.0f}×: {verdict})")


if __name__ == "__main__":
    main()
