"""The loader reads every accepted format and refuses anything that could run code."""

from pathlib import Path

import pytest
import torch

from ganstudio.inference.check import _output_problem, probe_tensor
from ganstudio.inference.loader import CheckpointError, load_network
from tests import checkpoints as ck


def _same_output(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = probe_tensor(3, 32)
    with torch.inference_mode():
        return torch.allclose(a(x), b(x))


def test_safetensors_rebuilds_the_network_from_its_metadata(tmp_path: Path) -> None:
    loaded = load_network(ck.safetensors_file(tmp_path / "v.safetensors"))
    assert (loaded.format, loaded.architecture) == ("safetensors", "se-unet")
    assert loaded.config["base_width"] == 4 and loaded.input_channels == 3
    assert loaded.stride == 4
    assert _same_output(loaded.net, ck.tiny_net())


def test_state_dicts_need_an_architecture_and_unwrap_common_keys(tmp_path: Path) -> None:
    path = ck.state_dict_file(tmp_path / "v.pt", wrap="state_dict")
    with pytest.raises(CheckpointError, match="does not say which architecture"):
        load_network(path)
    loaded = load_network(path, architecture="se-unet", config=ck.TINY)
    assert loaded.format == "state_dict"
    assert _same_output(loaded.net, ck.tiny_net())


def test_torchscript_archives_load(tmp_path: Path) -> None:
    loaded = load_network(ck.torchscript_file(tmp_path / "v.pt"))
    assert loaded.format == "torchscript" and loaded.architecture is None
    assert _same_output(loaded.net, ck.tiny_net())


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match="Refused") as refused:
        load_network(ck.malicious_pickle(tmp_path / "evil.pt", marker), architecture="se-unet")
    assert not marker.exists()
    assert "save_checkpoint" in str(refused.value)  # says how to export a safe one


def test_full_pickled_module_is_refused_with_export_advice(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="state_dict"):
        load_network(ck.full_module_pickle(tmp_path / "module.pt"), architecture="se-unet")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: ck.text_file(p, "hello, not weights"), "not a checkpoint"),
        (lambda p: ck.truncated(p, ck.safetensors_file(p.with_suffix(".full"))), "damaged"),
        (lambda p: ck.truncated(p, ck.state_dict_file(p.with_suffix(".full"))), "damaged"),
    ],
)
def test_non_checkpoints_and_truncated_files(tmp_path: Path, make, words: str) -> None:
    with pytest.raises(CheckpointError, match=words):
        load_network(make(tmp_path / "bad.bin"), architecture="se-unet", config=ck.TINY)


def test_unknown_architecture_and_mismatched_config(tmp_path: Path) -> None:
    path = ck.bare_safetensors_file(tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError, match="known architectures"):
        load_network(path, architecture="transformer-9000", config={})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_network(path, architecture="se-unet", config={"base_width": 8, "depth": 2})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_network(path, architecture="se-unet", config={"wings": 2})


def test_output_checks_name_the_problem() -> None:
    x = torch.zeros(1, 3, 8, 8)
    assert "1 channel" in _output_problem(x[:, :1], 8)
    assert "must keep height and width" in _output_problem(x[:, :, :4, :4], 8)
    assert "NaN" in _output_problem(x * float("nan"), 8)
    assert _output_problem(x, 8) is None
