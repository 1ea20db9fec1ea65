"""Plain pix2pix-style U-Net generator for full-image (post-edit) filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from models.blocks import norm_layer

NormKind = Literal["instance", "batch", "none"]


@dataclass(frozen=True)
class UNetConfig:
    """Settings that fully describe a UNet; stored in every checkpoint."""

    in_channels: int = 3
    out_channels: int = 3
    base_width: int = 32
    depth: int = 4
    norm: NormKind = "instance"

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "base_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.depth <= 8:
            raise ValueError(f"depth must be between 1 and 8, got {self.depth}")
        if self.norm not in ("instance", "batch", "none"):
            raise ValueError(f"norm must be 'instance', 'batch' or 'none', got {self.norm!r}")


class _Down(nn.Module):
    """Strided 4x4 conv, norm, LeakyReLU: halves H and W."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)
        self.norm = norm_layer(norm, out_channels)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.act(self.norm(self.conv(x)))  # (B, Cout, H/2, W/2)


class _Up(nn.Module):
    """Transposed 4x4 conv, norm, ReLU: doubles H and W."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)
        self.norm = norm_layer(norm, out_channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.act(self.norm(self.conv(x)))  # (B, Cout, 2H, 2W)


class UNet(nn.Module):
    """Full-image generator (pix2pix U-Net): conv-norm-LeakyReLU down, transposed conv up, skips.

    Input: (B, in_channels, H, W) in [-1, 1], H and W divisible by `stride`.
    Output: (B, out_channels, H, W) in [-1, 1].
    """

    config_class = UNetConfig

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        config = config or UNetConfig()
        self.config = config
        self.stride = 2**config.depth
        widths = [min(config.base_width * 2**i, config.base_width * 8) for i in range(config.depth)]
        # As in pix2pix: no norm on the outermost (raw pixels) and innermost (maybe 1x1) downs.
        self.down = nn.ModuleList(
            _Down(
                config.in_channels if i == 0 else widths[i - 1],
                widths[i],
                "none" if i in (0, config.depth - 1) else config.norm,
            )
            for i in range(config.depth)
        )
        # up[i] brings level i+1 back to level i; its input is concatenated with the skip there.
        # The innermost up sees the bottleneck alone; the others see (up output, skip) concatenated.
        up_in = [2 * widths[i + 1] for i in range(config.depth - 1)]
        if config.depth > 1:
            up_in[-1] = widths[-1]
        self.up = nn.ModuleList(
            _Up(up_in[i], widths[i], config.norm) for i in range(config.depth - 1)
        )
        self.head = nn.ConvTranspose2d(
            2 * widths[0] if config.depth > 1 else widths[0],
            config.out_channels,
            4,
            stride=2,
            padding=1,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a (B, in_channels, H, W) image in [-1, 1] to (B, out_channels, H, W) in [-1, 1]."""
        skips = []
        for down in self.down:
            x = down(x)  # (B, w_i, H/2^(i+1), W/2^(i+1))
            skips.append(x)
        for i in reversed(range(len(self.up))):
            x = self.up[i](x)  # (B, w_i, H/2^(i+1), W/2^(i+1))
            x = torch.cat([x, skips[i]], dim=1)  # (B, 2*w_i, H/2^(i+1), W/2^(i+1))
        return torch.tanh(self.head(x))  # (B, out_channels, H, W)
