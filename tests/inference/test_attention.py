"""Grad-CAM, saliency and feature maps: the maths in-process, then through a sandboxed executor."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganstudio.inference.attention import AnalysisError, attention_map, feature_maps
from ganstudio.inference.executor import ExecutorRefusedError
from ganstudio.inference.layers import (
    SALIENCY,
    VersionLayers,
    architecture_layers,
    check_layer,
    list_layers,
)
from ganstudio.inference.networks import (
    ExecutorPool,
    NetworkSpec,
    attention_of,
    features_of,
    version_layers,
)
from tests import checkpoints as ck
from tests.conftest import make_settings

SIDE = 64
# Output rows/cols 24..40 are explained; every layer of LocalNet looks at most 4 input pixels
# away (see its receptive field), so the known input area is the box grown by 4.
REGION = (slice(24, 40), slice(24, 40))
REACH = 4


class LocalNet(nn.Module):
    """An encoder-decoder whose output pixel depends only on the input within REACH pixels.

    Receptive field: conv3 (±1) → stride-2 conv3 (±2 more at full res) → nearest upsample
    (±1) → conv3 (±1): within ±4 (REACH) of the output pixel, and no global pooling.
    """

    stride = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.up(self.down(self.stem(x)))))


class Detaching(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x)).detach()


def photo(seed: int = 0, side: int = SIDE) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, side, side, generator=generator) * 2 - 1  # (1, 3, H, W)


def box_region(side: int = SIDE) -> torch.Tensor:
    region = torch.zeros(side, side)
    region[REGION] = 1
    return region


def mass_in_known_area(values: np.ndarray) -> float:
    rows, cols = REGION
    area = np.zeros_like(values, dtype=bool)
    area[rows.start - REACH : rows.stop + REACH, cols.start - REACH : cols.stop + REACH] = True
    return float(values[area].sum() / values.sum())


@pytest.mark.parametrize("layer", ["stem", "down", "up"])
def test_gradcam_mass_lies_in_the_input_area_the_region_depends_on(layer: str) -> None:
    heat = attention_map(LocalNet().eval(), photo(), box_region(), layer=layer)
    assert heat.method == "gradcam" and heat.layer == layer
    assert heat.values.shape == (SIDE, SIDE)
    assert heat.values.sum() == pytest.approx(1.0, rel=1e-4)
    assert mass_in_known_area(heat.values) >= 0.9


def test_the_map_follows_the_region() -> None:
    net, x = LocalNet().eval(), photo()
    left, right = torch.zeros(SIDE, SIDE), torch.zeros(SIDE, SIDE)
    left[:, :20], right[:, 44:] = 1, 1
    on_left = attention_map(net, x, left, layer="stem").values
    on_right = attention_map(net, x, right, layer="stem").values
    assert on_left[:, :24].sum() > 0.9 and on_right[:, 40:].sum() > 0.9


def test_saliency_of_a_torchscript_network_is_local_too(tmp_path: Path) -> None:
    scripted = torch.jit.load(ck.torchscript_file(tmp_path / "local.pt", LocalNet().eval()))
    heat = attention_map(scripted, photo(), box_region(), layer=None)
    assert heat.method == "saliency" and heat.layer == "input" and "TorchScript" in heat.note
    assert mass_in_known_area(heat.values) >= 0.9
    with pytest.raises(AnalysisError, match="cannot be used"):
        attention_map(scripted, photo(), box_region(), layer="stem")


def test_the_default_layer_of_an_se_unet_is_its_one_eighth_scale_block() -> None:
    net = ck.tiny_net(depth=3)
    heat = attention_map(net, photo(side=32), box_region(32), layer=None)
    assert heat.layer == "bottleneck"
    listed = architecture_layers("se-unet", ck.TINY | {"depth": 3})
    # The list of the architecture (built on the meta device) and the loaded network's agree.
    assert listed[0].name == "bottleneck" and listed[0].default
    assert list_layers(net, photo(side=32)) == listed


def test_an_unknown_layer_is_refused_with_the_known_ones() -> None:
    with pytest.raises(AnalysisError, match=r"no layer 'dec\.9'.*stem"):
        attention_map(LocalNet().eval(), photo(), box_region(), layer="dec.9")
    listed = VersionLayers("gradcam", architecture_layers("se-unet", ck.TINY), "")
    with pytest.raises(ValueError, match=r"no layer 'nope'\. Choose one of: bottleneck"):
        check_layer(listed, "nope")
    assert check_layer(listed, None) == "bottleneck" and check_layer(listed, "enc.0") == "enc.0"
    assert check_layer(SALIENCY, None) is None
    with pytest.raises(ValueError, match="TorchScript"):
        check_layer(SALIENCY, "stem")


def test_an_empty_region_and_a_detaching_network_get_sentences() -> None:
    with pytest.raises(AnalysisError, match="region is empty"):
        attention_map(LocalNet().eval(), photo(), torch.zeros(SIDE, SIDE), layer=None)
    with pytest.raises(AnalysisError, match="not differentiable"):
        attention_map(Detaching().eval(), photo(), box_region(), layer="stem")


def test_feature_maps_are_the_strongest_channels_strongest_first() -> None:
    net = LocalNet().eval()
    layer, channels = feature_maps(net, photo(), layer="down", top=5)
    assert layer == "down" and len(channels) == 5
    strengths = [c.strength for c in channels]
    assert strengths == sorted(strengths, reverse=True)
    with torch.no_grad():
        expected = net.down(net.stem(photo()))[0].abs().mean((1, 2))  # (16,)
    assert channels[0].index == int(expected.argmax())
    assert channels[0].pixels.shape == (SIDE // 2, SIDE // 2)
    assert channels[0].pixels.dtype == np.uint8 and channels[0].pixels.max() == 255


# --- through a sandboxed executor --------------------------------------------------------------


@pytest.fixture
def pool(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret_key").write_text("canary")  # what the self-test must not read
    pool = ExecutorPool(make_settings(tmp_path / "data"))
    yield pool
    pool.close()


def rgb(side: int = SIDE) -> Image.Image:
    pixels = ((photo(side=side)[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    return Image.fromarray(pixels, "RGB")


def test_an_executor_draws_the_map_of_a_pushed_network(
    pool: ExecutorPool, tmp_path: Path, sandboxed
) -> None:
    data = ck.safetensors_file(tmp_path / "v1.safetensors", depth=3).read_bytes()
    warm = pool.get(NetworkSpec("a" * 64, None), lambda: data)
    region = np.zeros((48, 40), dtype=np.float32)  # not a multiple of the stride: padded inside
    region[10:20, 8:30] = 1
    found = attention_of(warm, rgb(48).crop((0, 0, 40, 48)), None, region, layer=None, timeout=60)
    assert found.method == "gradcam" and found.layer == "bottleneck"
    assert found.heatmap.shape == (48, 40)
    assert found.heatmap.sum() == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ExecutorRefusedError, match="no layer 'nope'") as refused:
        attention_of(warm, rgb(48).crop((0, 0, 40, 48)), None, region, layer="nope", timeout=60)
    assert refused.value.kind == "analysis"
    features = features_of(warm, rgb(), None, layer="enc.1", top=4, timeout=60)
    assert features.layer == "enc.1" and len(features.channels) == 4
    assert features.channels[0].pixels.shape == (SIDE // 2, SIDE // 2)


def test_an_executor_falls_back_to_saliency_for_torchscript(
    pool: ExecutorPool, tmp_path: Path, sandboxed
) -> None:
    data = ck.torchscript_file(tmp_path / "local.pt", LocalNet().eval()).read_bytes()
    warm = pool.get(NetworkSpec("b" * 64, None), lambda: data)
    found = attention_of(warm, rgb(), None, box_region().numpy(), layer=None, timeout=60)
    assert found.method == "saliency" and "TorchScript" in found.note
    assert mass_in_known_area(found.heatmap) >= 0.9


def test_an_executor_lists_a_versions_layers_so_the_server_needs_no_torch(
    pool: ExecutorPool, sandboxed
) -> None:
    config = ck.TINY | {"depth": 3}
    listed = version_layers(
        pool.settings, checkpoint_format="safetensors", architecture="se-unet", config=config
    )
    assert listed.method == "gradcam" and listed.layers == architecture_layers("se-unet", config)
    scripted = version_layers(
        pool.settings, checkpoint_format="torchscript", architecture=None, config={}
    )
    assert scripted == SALIENCY and "TorchScript" in scripted.note
