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


class ReadsFile(nn.Module):
    """Maps a file into a tensor (`torch.from_file`) and mixes its bytes into the output."""

    def __init__(self, path: str, size: int = 16) -> None:
        super().__init__()
        self.path = path
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        leaked = torch.from_file(self.path, shared=False, size=self.size, dtype=torch.uint8)
        return x[:, :3] * 0.0 + leaked.float().mean() / 255.0


class WritesFile(nn.Module):
    """Writes its input to a file (`torch.save`, the aten::save op) on every forward."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.save(x, self.path)
        return x[:, :3]


class CreatesFile(nn.Module):
    """Creates and fills a file through a shared mapping (`from_file(shared=True)`)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mapped = torch.from_file(self.path, shared=True, size=64, dtype=torch.uint8)
        mapped.fill_(65)
        return x[:, :3] + mapped.float().mean() * 0.0  # used, so TorchScript keeps the calls


class ReadsAtLoad(nn.Module):
    """Reads a file in `__setstate__`, which TorchScript runs when the archive is loaded."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.seen = 0

    @torch.jit.export
    def __getstate__(self) -> tuple[str, int, bool]:
        return (self.path, self.seen, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, int, bool]) -> None:
        self.path = state[0]
        self.training = state[2]
        self.seen = int(torch.from_file(self.path, shared=False, size=4, dtype=torch.uint8).sum())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3] * 0.0 + float(self.seen)


class SlowOnBright(nn.Module):
    """Fast on the push check's probe (mean ~0), endless on a bright photo."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, :3]
        if bool(x.mean() > 0.5):
            for _ in range(1_000_000_000):
                y = y + 0.0
        return y


def scripted_bytes(module: nn.Module) -> bytes:
    """Return `module` scripted and saved as a TorchScript archive, in memory."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()
