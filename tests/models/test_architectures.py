"""Tests for the architectures in models/ and their registry and checkpoint format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch

from models import (
    ARCHITECTURES,
    ArchitectureConfigError,
    InvalidCheckpointError,
    UnknownArchitectureError,
    WeightsMismatchError,
    build,
    config_to_dict,
    load_checkpoint,
    load_weights,
    read_checkpoint_metadata,
    save_checkpoint,
)

TINY = {
    "se-unet": {"base_width": 4, "depth": 3},
    "unet": {"base_width": 4, "depth": 3, "norm": "batch"},
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _image(batch: int, channels: int, height: int, width: int) -> torch.Tensor:
    return torch.rand(batch, channels, height, width) * 2 - 1


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
@pytest.mark.parametrize("size", [(8, 8), (16, 40), (32, 24)])
def test_output_shape_equals_input_shape(key: str, size: tuple[int, int]) -> None:
    net = build(key, TINY[key]).eval()
    assert net.stride == 8
    x = _image(2, 3, *size)
    with torch.inference_mode():
        y = net(x)
    assert y.shape == x.shape


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_stride_is_two_to_the_depth(key: str, depth: int) -> None:
    net = build(key, {**TINY[key], "depth": depth}).eval()
    assert net.stride == 2**depth
    with torch.inference_mode():
        y = net(_image(1, 3, net.stride * 2, net.stride))
    assert y.shape == (1, 3, net.stride * 2, net.stride)


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_outputs_are_finite_and_within_minus_one_one(key: str) -> None:
    net = build(key, TINY[key])
    net.train()  # train mode too: batch statistics must not break the range
    y = net(_image(2, 3, 32, 32) * 5)
    assert torch.isfinite(y).all()
    assert y.min() >= -1
    assert y.max() <= 1
    assert y.std() > 0


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_four_input_channels_take_a_mask(key: str) -> None:
    net = build(key, {**TINY[key], "in_channels": 4}).eval()
    with torch.inference_mode():
        y = net(_image(1, 4, 32, 32))
    assert y.shape == (1, 3, 32, 32)
    with pytest.raises(RuntimeError):
        net(_image(1, 3, 32, 32))


def test_unknown_key_lists_known_keys() -> None:
    with pytest.raises(UnknownArchitectureError) as info:
        build("resnet-9000")
    message = str(info.value)
    assert "resnet-9000" in message
    assert "'se-unet'" not in message  # keys are listed plainly
    assert "known architectures: se-unet, unet" in message
    assert isinstance(info.value, ValueError)


def test_unknown_config_field_names_it_and_lists_accepted_fields() -> None:
    with pytest.raises(ArchitectureConfigError) as info:
        build("se-unet", {"base_widht": 8})
    assert info.value.field == "base_widht"
    assert "base_widht" in str(info.value)
    assert "accepted fields: in_channels, out_channels, base_width" in str(info.value)


@pytest.mark.parametrize(
    ("key", "config", "field"),
    [
        ("se-unet", {"depth": "3"}, "depth"),
        ("se-unet", {"depth": 3.0}, "depth"),
        ("se-unet", {"use_se": 1}, "use_se"),
        ("se-unet", {"in_channels": True}, "in_channels"),
        ("se-unet", {"depth": 0}, "depth"),
        ("se-unet", {"base_width": -4}, "base_width"),
        ("unet", {"norm": "layer"}, "norm"),
    ],
)
def test_bad_config_values_name_the_field(key: str, config: dict, field: str) -> None:
    with pytest.raises(ArchitectureConfigError) as info:
        build(key, config)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_config_round_trips_through_json(key: str) -> None:
    net = build(key, TINY[key])
    as_json = json.dumps(config_to_dict(net.config))
    assert build(key, json.loads(as_json)).config == net.config


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_checkpoint_round_trip_gives_identical_outputs(key: str, tmp_path: Path) -> None:
    net = build(key, {**TINY[key], "in_channels": 4})
    net.train()
    net(_image(4, 4, 32, 32))  # move batch-norm running stats off their defaults
    net.eval()
    path = tmp_path / "v1.safetensors"
    save_checkpoint(path, net, key, config_to_dict(net.config))

    read_key, config = read_checkpoint_metadata(path)
    assert read_key == key
    assert config == config_to_dict(net.config)
    assert read_checkpoint_metadata(path.read_bytes()) == (key, config)

    rebuilt = build(read_key, config)
    load_weights(rebuilt, safetensors.torch.load_file(path))
    rebuilt.eval()
    x = _image(2, 4, 32, 32)
    with torch.inference_mode():
        assert torch.equal(net(x), rebuilt(x))
        assert torch.equal(net(x), load_checkpoint(path.read_bytes())(x))


def test_mismatched_config_raises_with_a_useful_message(tmp_path: Path) -> None:
    path = tmp_path / "narrow.safetensors"
    save_checkpoint(path, build("se-unet", {"base_width": 4}), "se-unet")
    wider = build("se-unet", {"base_width": 8})
    with pytest.raises(WeightsMismatchError) as info:
        load_weights(wider, safetensors.torch.load_file(path))
    message = str(info.value)
    assert "shape mismatch at stem.0.weight: checkpoint (4,3,3,3) vs config (8,3,3,3)" in message
    assert "base_width" in message
    assert info.value.mismatched
    assert not info.value.missing


def test_extra_and_missing_tensors_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_checkpoint(path, build("se-unet", {"base_width": 4, "use_se": False}), "se-unet")
    with pytest.raises(WeightsMismatchError) as info:
        load_weights(build("se-unet", {"base_width": 4}), safetensors.torch.load_file(path))
    assert info.value.missing
    assert all(".se." in k for k in info.value.missing)
    assert f"missing {len(info.value.missing)} (first: " in str(info.value)

    state_dict = safetensors.torch.load_file(path)
    state_dict["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsMismatchError, match="1 tensors the se-unet config does not expect"):
        load_weights(build("se-unet", {"base_width": 4, "use_se": False}), state_dict)


def test_se_and_plain_have_different_parameter_counts() -> None:
    def count(use_se: bool) -> int:
        net = build("se-unet", {"base_width": 8, "use_se": use_se})
        return sum(p.numel() for p in net.parameters())

    assert count(True) > count(False)


def test_metadata_absent_or_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bare.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, path)
    assert read_checkpoint_metadata(path) == (None, None)
    assert read_checkpoint_metadata(path.read_bytes()) == (None, None)
    with pytest.raises(InvalidCheckpointError):
        read_checkpoint_metadata(b"\x00" * 4)
    with pytest.raises(InvalidCheckpointError):
        read_checkpoint_metadata((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(InvalidCheckpointError, match=r"no ganstudio\.architecture"):
        load_checkpoint(path)


def test_save_checkpoint_refuses_a_config_that_differs_from_the_net(tmp_path: Path) -> None:
    net = build("se-unet", {"base_width": 4})
    with pytest.raises(ArchitectureConfigError):
        save_checkpoint(tmp_path / "x.safetensors", net, "se-unet", {"base_width": 8})
    with pytest.raises(ArchitectureConfigError):
        save_checkpoint(tmp_path / "x.safetensors", net, "unet")


def test_equal_weights_give_equal_checkpoint_bytes(tmp_path: Path) -> None:
    net = build("se-unet", {"base_width": 4})
    saved = set()
    for i in range(8):  # safetensors alone orders its metadata randomly between saves
        save_checkpoint(tmp_path / f"{i}.safetensors", net, "se-unet")
        saved.add((tmp_path / f"{i}.safetensors").read_bytes())
    assert len(saved) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.safetensors" for i in range(8)]
