"""Load a checkpoint of any accepted format into an eval-mode network.

Runs only inside an executor process (`ganstudio.inference.executor_child`), on bytes the
worker sent: never in the server, never with access to the data directory. Accepted formats,
detected from the bytes (never from the file name):
- safetensors: tensors + `ganstudio.architecture` / `ganstudio.config` metadata (or given
  separately); the network is rebuilt from `models/`, so no code from the file runs.
- pickled state dict (`torch.save(net.state_dict())`): read only with
  `torch.load(weights_only=True)`, which refuses any pickle that would build other objects —
  a whole pickled module, or a file crafted to run a command.
- TorchScript archive (`torch.jit.save`): its code runs (TorchScript, not Python), so the worker
  first checks every op it uses against an allowlist of pure tensor operations
  (`ganstudio.inference.torchscript_check`), and only sends it to an executor whose kernel
  sandbox is active; without one, TorchScript is refused.
"""

import io
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

import models
from ganstudio.inference.formats import SAFE_EXPORT_HINT, CheckpointError, detect_format

# Wrappers training scripts commonly put around a generator's state dict.
STATE_DICT_KEYS = ("state_dict", "netG", "generator", "model", "params_ema", "params")


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


def load_network(
    source: Path | bytes | bytearray,
    *,
    architecture: str | None = None,
    config: dict[str, Any] | None = None,
) -> LoadedNetwork:
    """Load a checkpoint (a path, or its bytes); architecture/config fill in what it lacks."""
    data = source.read_bytes() if isinstance(source, Path) else bytes(source)
    kind = detect_format(io.BytesIO(data))
    if kind == "torchscript":
        try:
            with warnings.catch_warnings():
                # torch 2.13 deprecates TorchScript in favour of torch.export; teams still ship it.
                warnings.simplefilter("ignore", DeprecationWarning)
                net = torch.jit.load(io.BytesIO(data), map_location="cpu")
        except Exception as exc:  # torch raises many types for a bad archive
            raise CheckpointError(f"The TorchScript archive could not be loaded: {exc}") from None
        return LoadedNetwork(net.eval(), "torchscript", None, dict(config or {}))
    if kind == "safetensors":
        try:
            meta_key, meta_config = models.read_checkpoint_metadata(data)
            state_dict = safetensors.torch.load(data)
        except (models.InvalidCheckpointError, safetensors.SafetensorError) as exc:
            raise CheckpointError(f"The safetensors file is damaged or truncated: {exc}") from None
        architecture = architecture or meta_key
        config = config if config is not None else meta_config
        return _build(state_dict, architecture, config, "safetensors")
    state_dict = _unpickle_state_dict(data)
    return _build(state_dict, architecture, config, "state_dict")


def _unpickle_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
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
