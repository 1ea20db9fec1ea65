"""The TorchScript check reads an archive's code and pickles and refuses anything impure."""

import io
import pickle
import zipfile

import pytest
import torch
from torch import nn

import models
from ganstudio.inference.formats import CheckpointError
from ganstudio.inference.torchscript_check import archive_findings, check_torchscript
from tests import checkpoints as ck

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


def traced_bytes(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    traced = torch.jit.trace(module.eval(), torch.zeros(1, 3, 32, 32), check_trace=False)
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def rewritten(
    archive: bytes, old: str, new: str, *, extra: dict[str, bytes] | None = None
) -> bytes:
    """Return `archive` with `old` replaced by `new` in its code, plus `extra` members."""
    source, target = zipfile.ZipFile(io.BytesIO(archive)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".py"):
                data = data.replace(old.encode(), new.encode())
            out.writestr(info, data)
        root = source.namelist()[0].split("/")[0]
        for name, data in (extra or {}).items():
            out.writestr(f"{root}/{name}", data)
    return target.getvalue()


COMMON_LAYERS = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"),
    nn.InstanceNorm2d(8, affine=True),
    nn.LeakyReLU(0.2),
    nn.ConvTranspose2d(8, 8, 4, 2, 1),
    nn.BatchNorm2d(8),
    nn.Hardswish(),
    nn.Upsample(scale_factor=0.5, mode="bilinear"),
    nn.Conv2d(8, 12, 3, padding=1),
    nn.PixelShuffle(2),
    nn.AvgPool2d(2),
    nn.Upsample(scale_factor=2.0),
    nn.Conv2d(3, 3, 1),
    nn.Tanh(),
)


@pytest.mark.parametrize(
    "archive",
    [
        pytest.param(lambda: traced_bytes(ck.tiny_net()), id="traced se-unet"),
        pytest.param(
            lambda: traced_bytes(models.build("unet", {"base_width": 4, "depth": 2})),
            id="traced unet",
        ),
        pytest.param(lambda: ck.scripted_bytes(COMMON_LAYERS), id="scripted common layers"),
        pytest.param(lambda: traced_bytes(COMMON_LAYERS), id="traced common layers"),
        pytest.param(lambda: ck.scripted_bytes(ck.Solid((1.0, 0.0, 0.0))), id="buffers"),
        pytest.param(lambda: ck.scripted_bytes(ck.SlowOnBright()), id="loops and branches"),
        pytest.param(lambda: ck.scripted_bytes(ck.Raises()), id="raise"),
    ],
)
def test_real_generators_pass(archive) -> None:
    check_torchscript(io.BytesIO(archive()))


@pytest.mark.parametrize(
    ("network", "reason"),
    [
        (lambda: ck.ReadsFile("/srv/data/secret_key"), "torch.from_file is not a pure tensor"),
        (lambda: ck.WritesFile("/srv/ganstudio/json.py"), "torch.save is not a pure tensor"),
        (lambda: ck.CreatesFile("/srv/ganstudio/json.py"), "torch.from_file is not a pure"),
        (lambda: ck.ReadsAtLoad("/srv/data/secret_key"), "defines __setstate__"),
    ],
    ids=["reads a file", "saves a file", "maps a file to write it", "runs code at load"],
)
def test_file_access_and_load_time_code_are_refused(network, reason) -> None:
    with pytest.raises(CheckpointError, match="pure tensor operations") as refused:
        check_torchscript(io.BytesIO(ck.scripted_bytes(network())))
    assert reason in str(refused.value) and "safetensors" in str(refused.value)


def test_hand_edited_code_is_read_not_trusted() -> None:
    solid = ck.scripted_bytes(ck.Solid((1.0, 0.0, 0.0)))
    cases = {
        "ops.evil.expand(": "unknown op namespace (evil)",
        "torch.as_strided(": "torch.as_strided is not a pure tensor operation",
        "ops.aten.save(": "ops.aten.save is not a pure tensor operation",
        "(color).cpu_copy(": ".cpu_copy(…) calls a method the archive does not define",
    }
    for replacement, reason in cases.items():
        findings = [
            str(f)
            for f in archive_findings(io.BytesIO(rewritten(solid, "torch.expand(", replacement)))
        ]
        assert any(reason in f for f in findings), (replacement, findings)
    imports = rewritten(solid, "class Solid", "import os\nclass Solid")
    assert any("imports a module" in str(f) for f in archive_findings(io.BytesIO(imports)))


def test_pickles_may_hold_only_tensors_and_the_archives_own_classes() -> None:
    evil = pickle.dumps(print, protocol=2)  # a GLOBAL naming builtins.print
    archive = rewritten(ck.scripted_bytes(ck.Raises()), "", "", extra={"extra.pkl": evil})
    findings = [str(f) for f in archive_findings(io.BytesIO(archive))]
    assert findings == ["extra.pkl: it pickles __builtin__.print, which is not a tensor"]


def test_an_unreadable_archive_is_refused() -> None:
    with pytest.raises(CheckpointError, match="not a readable zip archive"):
        check_torchscript(io.BytesIO(b"PK\x03\x04 not really a zip"))
