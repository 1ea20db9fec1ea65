"""Build small checkpoints of every accepted format — and hostile ones — for tests."""

import io
import os
import pickle
from pathlib import Path

import torch
from torch import nn

import models

TINY = {"base_width": 4, "depth": 2}


def tiny_net(seed: int = 0, **config: object) -> nn.Module:
    torch.manual_seed(seed)
    return models.build("se-unet", {**TINY, **config}).eval()


def safetensors_file(path: Path, seed: int = 0, **config: object) -> Path:
    net = tiny_net(seed, **config)
    models.save_checkpoint(path, net, "se-unet", net.config)
    return path


def bare_safetensors_file(path: Path, seed: int = 0) -> Path:
    """Safetensors without the architecture metadata (needs --architecture/--config)."""
    import safetensors.torch

    safetensors.torch.save_file(dict(tiny_net(seed).state_dict()), str(path))
    return path


def state_dict_file(path: Path, seed: int = 0, wrap: str | None = None) -> Path:
    state = tiny_net(seed).state_dict()
    torch.save({wrap: state} if wrap else state, path)
    return path


def torchscript_file(path: Path, module: nn.Module | None = None) -> Path:
    """Trace the tiny network, or script `module` (scripting keeps its loops and raises)."""
    if module is None:
        archive = torch.jit.trace(tiny_net(), torch.zeros(1, 3, 32, 32))
    else:
        archive = torch.jit.script(module)
    torch.jit.save(archive, str(path))
    return path


def full_module_pickle(path: Path) -> Path:
    """A whole pickled nn.Module, as `torch.save(net)` writes it."""
    torch.save(tiny_net(), path)
    return path


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def malicious_pickle(path: Path, marker: Path) -> Path:
    """A pickle that runs a shell command when loaded with plain pickle/torch.load."""
    with path.open("wb") as handle:
        pickle.dump({"weight": _RunsCommand(marker)}, handle, protocol=2)
    return path


def text_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


class OneChannel(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1]


class HalfSize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3, ::2, ::2]


class MakesNaN(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3] * float("nan")


class Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > 0:
            raise RuntimeError("boom: this network always fails")
        return x


class Slow(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, :3]
        for _ in range(100_000_000):
            y = y + 0.0
        return y


def to_bytes(path: Path) -> io.BytesIO:
    return io.BytesIO(path.read_bytes())


class Solid(nn.Module):
    """Paints every pixel one colour: renders whose version a test can tell by eye."""

    def __init__(self, rgb: tuple[float, float, float]) -> None:
        super().__init__()
        self.register_buffer("color", torch.tensor(rgb).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.color.expand(x.shape[0], 3, x.shape[2], x.shape[3])
