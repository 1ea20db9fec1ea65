"""Why a generator's output looks as it does: Grad-CAM, input-gradient saliency, feature maps.

Runs inside an executor (`executor_child`) on a prepared, padded input tensor; no I/O.

Grad-CAM for an image-to-image network. The thing explained is one scalar: the sum of the
output's channels over the region (Seg-Grad-CAM, Vinogradova et al. 2020, for a class's pixels).
The map is the element-wise product of that scalar's gradient and the layer's activations,
summed over channels (HiResCAM, Draelos & Carin 2020), in absolute value. Classic Grad-CAM
averages each channel's gradient over the whole map first, which for a dense output smears the
map onto every place the channel fires, far from the region; the element-wise form keeps it
where the region's output actually depends on the layer. The absolute value keeps evidence of
either sign: a generator darkens as much as it brightens.

Cost: the layer's output is cut from the graph (a fresh leaf that needs a gradient), so autograd
records only the layers after it and computes no weight gradients: one forward and a partial
backward, ~2 forwards in all (bench/gradcam.py measures it).
"""

import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.inference.layers import SALIENCY_NOTE, LayerInfo, list_layers


class AnalysisError(ValueError):
    """The analysis cannot be made; the message says why and what to do, for a person."""


@dataclass
class Heatmap:
    method: str  # "gradcam" or "saliency"
    layer: str  # the layer hooked; "input" for saliency
    note: str
    values: np.ndarray  # (H, W) float32 >= 0, sums to 1 (all zeros: nothing depends)


@dataclass
class Channel:
    index: int
    strength: float  # mean absolute activation
    pixels: np.ndarray  # (h, w) uint8, min-max scaled


def is_scripted(net: nn.Module) -> bool:
    return isinstance(net, torch.jit.ScriptModule)


# Each loaded network's layers, measured once: the probe is a forward pass of its own, which on
# a GPU costs as much as a small network's real one (bench/gradcam.py).
_measured: "weakref.WeakKeyDictionary[nn.Module, list[LayerInfo]]" = weakref.WeakKeyDictionary()


def network_layers(net: nn.Module, x: torch.Tensor) -> list[LayerInfo]:
    """The loaded network's layers by the rule `layers.architecture_layers` lists them with."""
    if is_scripted(net):
        return []
    if net not in _measured:
        side = max(64, int(getattr(net, "stride", 1) or 1))  # a small probe measures the layers
        probe = torch.zeros(1, x.shape[1], side, side, device=x.device, dtype=x.dtype)
        _measured[net] = list_layers(net, probe)
    return _measured[net]


def _module(net: nn.Module, x: torch.Tensor, layer: str | None) -> tuple[str, nn.Module]:
    infos = network_layers(net, x)
    names = [info.name for info in infos]
    name = layer or (names[0] if names else "")
    if name not in names:
        raise AnalysisError(
            f"This version's network has no layer {name!r}. Choose one of: {', '.join(names)}."
            if names
            else "This network has no layers an analysis can look at."
        )
    return name, net.get_submodule(name)


def attention_map(
    net: nn.Module, x: torch.Tensor, region: torch.Tensor, *, layer: str | None
) -> Heatmap:
    """Return what the region's output depends on, at `x`'s height and width.

    x: (1, C, H, W) the network's input; region: (H, W) weights in [0, 1] of the output pixels
    to explain. TorchScript networks get input-gradient saliency (`layer` must be None).
    """
    if region.shape != x.shape[-2:]:
        raise AnalysisError("The region does not have the image's size.")
    if not bool((region > 0).any()):
        raise AnalysisError("The region is empty: choose a region that covers some pixels.")
    weights = region.to(x.device, torch.float32)[None, None]  # (1, 1, H, W)
    for parameter in net.parameters():
        parameter.requires_grad_(False)  # input gradients only: no weight gradients
    with torch.enable_grad():
        if is_scripted(net):
            if layer:
                raise AnalysisError(f"Layer {layer!r} cannot be used: {SALIENCY_NOTE}")
            return _saliency(net, x, weights)
        return _gradcam(net, x, weights, layer)


def _explained(y: object, weights: torch.Tensor) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[-2:] != weights.shape[-2:]:
        raise AnalysisError("The network's output is not an image of its input's size.")
    return (y[:, :3].float() * weights).sum()  # the region's output, all colour channels


def _gradient(score: torch.Tensor, of: torch.Tensor) -> torch.Tensor:
    if not score.requires_grad:
        raise AnalysisError(
            "The network is not differentiable: its output does not depend on its input "
            "through autograd (it detaches tensors or turns gradients off), so no map can be "
            "made. Export it without torch.no_grad()/detach() in forward."
        )
    try:
        (gradient,) = torch.autograd.grad(score, of)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise AnalysisError(f"The network failed under autograd: {first}") from None
    return gradient


def _saliency(net: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> Heatmap:
    x = x.detach().requires_grad_(True)
    score = _explained(net(x), weights)
    gradient = _gradient(score, x)  # (1, C, H, W)
    values = gradient[0].abs().sum(0)  # (H, W)
    return Heatmap("saliency", "input", SALIENCY_NOTE, _normalised(values))


def _gradcam(net: nn.Module, x: torch.Tensor, weights: torch.Tensor, layer: str | None) -> Heatmap:
    name, module = _module(net, x, layer)
    captured: list[torch.Tensor] = []

    def cut(_module: nn.Module, _inputs: object, output: object) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor) or captured:
            return None
        leaf = output.detach().requires_grad_(True)  # the graph starts here
        captured.append(leaf)
        return leaf

    handle = module.register_forward_hook(cut)
    try:
        y = net(x)  # nothing before the layer is recorded: neither x nor a weight needs a gradient
    finally:
        handle.remove()
    if not captured:
        raise AnalysisError(f"Layer {name!r} did not run in the forward pass.")
    activations = captured[0]  # (1, K, h, w)
    gradient = _gradient(_explained(y, weights), activations)
    values = (gradient * activations).float().sum(1, keepdim=True).abs()  # (1, 1, h, w)
    if values.shape[-2:] != x.shape[-2:]:
        values = F.interpolate(values, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return Heatmap("gradcam", name, "", _normalised(values[0, 0]))


def _normalised(values: torch.Tensor) -> np.ndarray:
    """Scale to a sum of 1 on the network's device, then copy to the host once."""
    values = values.detach().float().clamp_min(0)  # (H, W)
    total = values.sum(dtype=torch.float64)
    scaled = torch.where(total > 0, values / total.clamp_min(1e-30), torch.zeros_like(values))
    array = scaled.cpu().numpy().astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise AnalysisError("The map has NaN or infinite values: the network's gradients blow up.")
    return array


def feature_maps(
    net: nn.Module, x: torch.Tensor, *, layer: str | None, top: int
) -> tuple[str, list[Channel]]:
    """Return the layer's `top` strongest channels (by mean absolute activation)."""
    if is_scripted(net):
        raise AnalysisError(
            "Feature maps need a layer, and this version is a TorchScript archive whose layers "
            "cannot be hooked. Push it as safetensors to see its feature maps."
        )
    name, module = _module(net, x, layer)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(
        lambda _m, _i, output: captured.append(output) if not captured else None
    )
    try:
        with torch.inference_mode():
            net(x)
    finally:
        handle.remove()
    if not captured or not isinstance(captured[0], torch.Tensor) or captured[0].dim() != 4:
        raise AnalysisError(f"Layer {name!r} gave no feature map.")
    activations = captured[0][0].float()  # (K, h, w)
    strength = activations.abs().mean((1, 2))  # (K,)
    order = torch.argsort(strength, descending=True)[: max(1, top)]
    channels = []
    for index in order.tolist():
        plane = activations[index]
        low, high = plane.min(), plane.max()
        scaled = (plane - low) / (high - low) if high > low else torch.zeros_like(plane)
        pixels = (scaled * 255).round().to(torch.uint8).cpu().numpy()  # (h, w)
        channels.append(Channel(index, float(strength[index]), pixels))
    return name, channels
