"""Load a checkpoint of any accepted format into an eval-mode network, running no code from it.

Accepted formats, detected from the bytes (never from the file name):
- safetensors: tensors + `ganstudio.architecture` / `ganstudio.config` metadata (or given
  separately); the network is rebuilt from `models/`.
- TorchScript archive (`torch.jit.save`): loaded with `torch.jit.load`.
- pickled state dict (`torch.save(net.state_dict())`): read only with
  `torch.load(weights_only=True)`, which refuses any pickle that would build other objects —
  a whole pickled module, or a file crafted to run a command.
"""

import json
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

import models

SAFE_EXPORT_HINT = (
    "Export a safe checkpoint instead: `from models import save_checkpoint; "
    "save_checkpoint('v4.safetensors', net, 'se-unet', net.config)`, or "
    "`torch.save(net.state_dict(), 'v4.pt')` and give the architecture and config when pushing."
)
# Wrappers training scripts commonly put around a generator's state dict.
STATE_DICT_KEYS = ("state_dict", "netG", "generator", "model", "params_ema", "params")


class CheckpointError(ValueError):
    """The checkpoint cannot be used; the message says why and what to do."""


@dataclass
class LoadedNetwork:
    net: nn.Module
    format: str  # "safetensors", "torchscript" or "state_dict"
    architecture: str | None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def stride(self) -> int:
        """The factor input height and width must be divisible by (1 when unknown)."""
        return int(getattr(self.net, "stride", 1) or 1)

    @property
    def input_channels(self) -> int | None:
        value = self.config.get("in_channels")
        return int(value) if value is not None else None


def detect_format(head: bytes, path: Path) -> str:
    """Return "safetensors", "torchscript", "torch-zip" or "pickle" from the file's bytes."""
    if len(head) >= 9:
        header_len = int.from_bytes(head[:8], "little")
        if 0 < header_len < 100 * 1024 * 1024 and head[8:9] == b"{":
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            raise CheckpointError("The file looks like a zip archive but is damaged.") from None
        # TorchScript archives carry their code; torch.save archives only data.pkl + tensors.
        if any("/code/" in name or name.endswith("constants.pkl") for name in names):
            return "torchscript"
        if any(name.endswith("data.pkl") for name in names):
            return "torch-zip"
        raise CheckpointError(
            "The file is a zip archive but neither a TorchScript archive nor a torch.save "
            "checkpoint. " + SAFE_EXPORT_HINT
        )
    if head[:1] == b"\x80":  # pickle protocol 2+ (legacy torch.save format)
        return "pickle"
    raise CheckpointError(
        "This is not a checkpoint GAN Studio can read (expected safetensors, a TorchScript "
        "archive, or a torch.save state dict). " + SAFE_EXPORT_HINT
    )


def load_network(
    path: Path, *, architecture: str | None = None, config: dict[str, Any] | None = None
) -> LoadedNetwork:
    """Load the checkpoint at `path`; architecture/config fill in what the file does not say."""
    with path.open("rb") as handle:
        head = handle.read(16)
    kind = detect_format(head, path)
    if kind == "torchscript":
        try:
            with warnings.catch_warnings():
                # torch 2.13 deprecates TorchScript in favour of torch.export; teams still ship it.
                warnings.simplefilter("ignore", DeprecationWarning)
                net = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises many types for a bad archive
            raise CheckpointError(f"The TorchScript archive could not be loaded: {exc}") from None
        return LoadedNetwork(net.eval(), "torchscript", None, dict(config or {}))
    if kind == "safetensors":
        try:
            meta_key, meta_config = models.read_checkpoint_metadata(path)
            state_dict = safetensors.torch.load_file(str(path))
        except (models.InvalidCheckpointError, safetensors.SafetensorError) as exc:
            raise CheckpointError(f"The safetensors file is damaged or truncated: {exc}") from None
        architecture = architecture or meta_key
        config = config if config is not None else meta_config
        return _build(state_dict, architecture, config, "safetensors")
    state_dict = _unpickle_state_dict(path)
    return _build(state_dict, architecture, config, "state_dict")


def _unpickle_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            "Refused: this pickle would create Python objects other than tensors (a whole "
            "pickled nn.Module, or code that runs when it is opened), so it was not loaded. "
            f"{SAFE_EXPORT_HINT} (torch said: {str(exc).splitlines()[0][:200]})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f"The file is damaged or truncated: {exc}") from None
    for key in STATE_DICT_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        raise CheckpointError(
            "The pickle holds no state dict (a mapping of names to tensors). " + SAFE_EXPORT_HINT
        )
    return loaded


def _build(
    state_dict: dict[str, torch.Tensor],
    architecture: str | None,
    config: dict[str, Any] | None,
    kind: str,
) -> LoadedNetwork:
    if not architecture:
        known = ", ".join(sorted(models.ARCHITECTURES))
        raise CheckpointError(
            "The checkpoint does not say which architecture it is. Give one "
            f"(--architecture / the 'architecture' field): {known}."
        )
    try:
        net = models.build(architecture, config or {})
        models.load_weights(net, state_dict)
    except models.UnknownArchitectureError as exc:
        raise CheckpointError(f"{exc}.") from None
    except models.ArchitectureConfigError as exc:
        raise CheckpointError(f"The config does not fit {architecture}: {exc}") from None
    except models.WeightsMismatchError as exc:
        raise CheckpointError(f"The weights do not fit the {architecture} config: {exc}") from None
    resolved = models.config_to_dict(net.config)
    return LoadedNetwork(net.eval(), kind, architecture, resolved)


def parse_config(text: str | None) -> dict[str, Any] | None:
    """Parse a JSON config given as a form field or file; None when empty."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"The config is not valid JSON ({exc.msg} at line {exc.lineno})."
        raise CheckpointError(message) from None
    if not isinstance(value, dict):
        raise CheckpointError('The config must be a JSON object, e.g. {"base_width": 16}.')
    return value
