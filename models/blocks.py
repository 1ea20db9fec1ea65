"""Small building blocks shared by the U-Net architectures."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Channel attention: reweight channels by a gate computed from their global mean."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of x by a learned gate in [0, 1]."""
        gate = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        gate = nn.functional.relu(self.fc1(gate))  # (B, C/r, 1, 1)
        gate = nn.functional.hardsigmoid(self.fc2(gate))  # (B, C, 1, 1)
        return x * gate


class SeparableConv(nn.Module):
    """Depthwise 3x3 then pointwise 1x1 conv, each followed by batch norm; hard-swish at the end."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False
        )
        self.depthwise_norm = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pointwise_norm = nn.BatchNorm2d(out_channels)
        self.act = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the separable conv."""
        x = self.act(self.depthwise_norm(self.depthwise(x)))  # (B, Cin, H/stride, W/stride)
        return self.act(self.pointwise_norm(self.pointwise(x)))  # (B, Cout, H/stride, W/stride)


class SEConvBlock(nn.Module):
    """Two separable convs with an optional Squeeze-and-Excitation gate on the result."""

    def __init__(
        self, in_channels: int, out_channels: int, use_se: bool = True, se_reduction: int = 4
    ) -> None:
        super().__init__()
        self.conv1 = SeparableConv(in_channels, out_channels)
        self.conv2 = SeparableConv(out_channels, out_channels)
        # Named "se" so weights of a use_se=False network load into a use_se=True one by name.
        self.se = SqueezeExcite(out_channels, se_reduction) if use_se else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        x = self.conv1(x)  # (B, Cout, H, W)
        return self.se(self.conv2(x))  # (B, Cout, H, W)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Return a 2D normalisation layer by name: "instance", "batch" or "none"."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()
