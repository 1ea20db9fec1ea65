"""SE-U-Net: a light U-Net generator for real-time (phone) face filters."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.blocks import SEConvBlock, SeparableConv


@dataclass(frozen=True)
class SEUNetConfig:
    """Settings that fully describe an SEUNet; stored in every checkpoint."""

    in_channels: int = 3
    out_channels: int = 3
    base_width: int = 16
    depth: int = 3
    se_reduction: int = 4
    use_se: bool = True

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "base_width", "se_reduction"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.depth <= 6:
            raise ValueError(f"depth must be between 1 and 6, got {self.depth}")


class SEUNet(nn.Module):
    """Real-time image-to-image generator: U-Net of separable convs with SE and hard-swish.

    Input: (B, in_channels, H, W) in [-1, 1], H and W divisible by `stride`; channels beyond
    the first three carry masks (e.g. an eye mask). Output: (B, out_channels, H, W) in [-1, 1].
    """

    config_class = SEUNetConfig

    def __init__(self, config: SEUNetConfig | None = None) -> None:
        super().__init__()
        config = config or SEUNetConfig()
        self.config = config
        self.stride = 2**config.depth
        widths = [config.base_width * 2**i for i in range(config.depth + 1)]

        def block(cin: int, cout: int) -> SEConvBlock:
            return SEConvBlock(cin, cout, use_se=config.use_se, se_reduction=config.se_reduction)

        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.Hardswish(),
        )
        self.enc = nn.ModuleList(block(widths[i], widths[i]) for i in range(config.depth))
        self.down = nn.ModuleList(
            SeparableConv(widths[i], widths[i + 1], stride=2) for i in range(config.depth)
        )
        self.bottleneck = block(widths[-1], widths[-1])
        self.up = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 1, bias=False) for i in range(config.depth)
        )
        self.dec = nn.ModuleList(block(2 * widths[i], widths[i]) for i in range(config.depth))
        self.head = nn.Conv2d(widths[0], config.out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a (B, in_channels, H, W) image in [-1, 1] to (B, out_channels, H, W) in [-1, 1]."""
        x = self.stem(x)  # (B, w0, H, W)
        skips = []
        for enc, down in zip(self.enc, self.down, strict=True):
            x = enc(x)  # (B, w_i, H/2^i, W/2^i)
            skips.append(x)
            x = down(x)  # (B, w_{i+1}, H/2^(i+1), W/2^(i+1))
        x = self.bottleneck(x)  # (B, w_depth, H/stride, W/stride)
        for i in reversed(range(len(self.dec))):
            x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")  # (B, w_{i+1}, 2h, 2w)
            x = self.up[i](x)  # (B, w_i, H/2^i, W/2^i)
            x = torch.cat([x, skips[i]], dim=1)  # (B, 2*w_i, H/2^i, W/2^i)
            x = self.dec[i](x)  # (B, w_i, H/2^i, W/2^i)
        return torch.tanh(self.head(x))  # (B, out_channels, H, W)
