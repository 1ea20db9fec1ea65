"""The layers of a version's network that an analysis (Grad-CAM, feature maps) can look at.

The list comes from the architecture in `models/` built on torch's meta device (no memory, no
weights): our own code, never the pushed bytes. It is built in an executor all the same
(`networks.version_layers`): torch stays out of the server process. The executor uses the same
rule on a loaded network, so a name listed here is a name it hooks.

TorchScript archives run compiled code whose submodules cannot take hooks (torch raises
NotImplementedError), so their analyses fall back to input-gradient saliency.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where the layers are measured: in executors only
    import torch
    from torch import nn

# The default layer is the last one (in forward order) at this downscale or the nearest finer:
# its receptive field covers a whole face crop, and at 1/8 it still tells the eyes apart.
DEFAULT_SCALE = 8
# Side of the probe input that measures each layer's channels and scale.
PROBE_SIDE = 256

SALIENCY_NOTE = (
    "This version is a TorchScript archive: its layers are compiled and cannot be hooked, so "
    "its map is input-gradient saliency (how much each input pixel moves the region's output), "
    "not Grad-CAM."
)


@dataclass(frozen=True)
class LayerInfo:
    name: str  # module path, e.g. "bottleneck", "dec.0"
    type: str  # the module's class name
    channels: int  # output channels
    scale: int  # input side / this layer's side (1 = full resolution)
    default: bool  # the architecture's default layer (exactly one is)


@dataclass(frozen=True)
class VersionLayers:
    method: str  # "gradcam" (layers can be hooked) or "saliency" (input gradients)
    layers: list[LayerInfo]  # default first; [] for saliency
    note: str  # why saliency, when it is

    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]


def list_layers(net: "nn.Module", probe: "torch.Tensor") -> list[LayerInfo]:
    """Return the hookable blocks of `net`, default first, measured on one forward of `probe`.

    A block is a child of the network ("stem", "bottleneck") or an item of a list of blocks
    ("enc.0"), that outputs a 4-D tensor (a feature map): the network's own structure, not
    every convolution inside it.
    """
    import torch

    found: dict[str, tuple[str, int, int]] = {}
    side = probe.shape[-1]

    def record(name: str, module: "nn.Module"):
        def hook(_module: "nn.Module", _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and name not in found:
                scale = max(1, side // max(1, int(output.shape[-1])))
                found[name] = (type(module).__name__, int(output.shape[1]), scale)

        return hook

    handles = [module.register_forward_hook(record(name, module)) for name, module in _blocks(net)]
    try:
        with torch.no_grad():
            net(probe)
    finally:
        for handle in handles:
            handle.remove()
    order = list(found)  # forward order (hooks fire as the modules run)
    if not order:
        return []
    default = _default_layer(order, found)
    infos = [
        LayerInfo(name, kind, channels, scale, name == default)
        for name, (kind, channels, scale) in found.items()
    ]
    return sorted(infos, key=lambda info: not info.default)  # stable: default first


def _blocks(net: "nn.Module") -> list[tuple[str, "nn.Module"]]:
    from torch import nn

    blocks = []
    for name, child in net.named_children():
        if isinstance(child, nn.ModuleList | nn.ModuleDict):
            blocks += [(f"{name}.{key}", item) for key, item in child.named_children()]
        else:
            blocks.append((name, child))
    return blocks


def _default_layer(order: list[str], found: dict[str, tuple[str, int, int]]) -> str:
    # Not the last layer: the head's map is the output's own gradient, which explains nothing.
    body = order[:-1] or order
    scales = {found[name][2] for name in body}
    target = max((s for s in scales if s <= DEFAULT_SCALE), default=min(scales))
    return [name for name in body if found[name][2] == target][-1]


def architecture_layers(architecture: str, config: Mapping[str, Any]) -> list[LayerInfo]:
    """The layers of a `models/` architecture with `config`, default first (in executors)."""
    import torch

    import models

    with torch.device("meta"):
        net = models.build(architecture, dict(config))
    channels = int(getattr(net.config, "in_channels", 3))
    stride = int(getattr(net, "stride", 1) or 1)
    side = max(PROBE_SIDE, stride)
    probe = torch.zeros(1, channels, side, side, device="meta")
    return list_layers(net.eval(), probe)


SALIENCY = VersionLayers("saliency", [], SALIENCY_NOTE)


def check_layer(layers: VersionLayers, name: str | None) -> str | None:
    """Return the layer an analysis uses: `name`, or the default; None for saliency.

    Raises ValueError with a sentence for a person when `name` is not one of the layers.
    """
    if layers.method == "saliency":
        if name:
            raise ValueError(f"Layer {name!r} cannot be used: {layers.note} Leave the layer empty.")
        return None
    known = layers.names()
    if not name:
        return known[0] if known else None
    if name not in known:
        raise ValueError(
            f"This version's network has no layer {name!r}. Choose one of: {', '.join(known)}."
        )
    return name
