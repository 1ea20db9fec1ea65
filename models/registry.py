"""Registry of architectures by key, config validation and safetensors checkpoints."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from models.se_unet import SEUNet
from models.unet import UNet

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "se-unet": SEUNet,
    "unet": UNet,
}

METADATA_ARCHITECTURE = "ganstudio.architecture"
METADATA_CONFIG = "ganstudio.config"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


class UnknownArchitectureError(ValueError):
    """The architecture key is not in ARCHITECTURES."""


class ArchitectureConfigError(ValueError):
    """A config field is unknown or has a bad value; `field` names it when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WeightsMismatchError(ValueError):
    """A state dict does not fit the network built from its config."""

    def __init__(
        self,
        message: str,
        unexpected: list[str],
        missing: list[str],
        mismatched: list[str],
    ) -> None:
        super().__init__(message)
        self.unexpected = unexpected
        self.missing = missing
        self.mismatched = mismatched


class InvalidCheckpointError(ValueError):
    """The bytes are not a readable safetensors checkpoint (or its metadata is malformed)."""


def architecture_class(key: str) -> type[nn.Module]:
    """Return the class registered under key, or raise UnknownArchitectureError."""
    try:
        return ARCHITECTURES[key]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitectureError(
            f"unknown architecture {key!r}; known architectures: {known}"
        ) from None


def architecture_key(net: nn.Module) -> str | None:
    """Return the registry key of net's class, or None if it is not registered."""
    for key, cls in ARCHITECTURES.items():
        if type(net) is cls:
            return key
    return None


def _type_problem(value: Any, expected: Any) -> str | None:
    """Describe why value does not match the annotation expected, or return None."""
    if typing.get_origin(expected) is typing.Literal:
        choices = typing.get_args(expected)
        if value in choices and isinstance(value, str):
            return None
        return f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if ok:
        return None
    return f"must be {expected.__name__}, got {value!r} ({type(value).__name__})"


def make_config(key: str, config: Mapping[str, Any] | Any | None = None) -> Any:
    """Validate config (a dict, a config dataclass or None) and return the config dataclass."""
    cls = architecture_class(key)
    config_class = cls.config_class  # type: ignore[attr-defined]
    if config is None:
        return config_class()
    if isinstance(config, config_class):
        return config
    if not isinstance(config, Mapping):
        raise ArchitectureConfigError(
            f"{key} config must be a JSON object, got {type(config).__name__}"
        )
    hints = typing.get_type_hints(config_class)
    accepted = [f.name for f in dataclasses.fields(config_class)]
    listing = f"accepted fields: {', '.join(accepted)}"
    for name, value in config.items():
        if name not in hints:
            raise ArchitectureConfigError(
                f"{key} config has unknown field {name!r}; {listing}", field=str(name)
            )
        problem = _type_problem(value, hints[name])
        if problem:
            raise ArchitectureConfigError(f"{key} config field {name!r} {problem}", field=name)
    try:
        return config_class(**config)
    except ValueError as exc:
        field = str(exc).split(" ", 1)[0]
        raise ArchitectureConfigError(
            f"{key} config: {exc}", field=field if field in accepted else None
        ) from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a config dataclass (dicts are copied as they are)."""
    if isinstance(config, Mapping):
        return dict(config)
    return dataclasses.asdict(config)


def build(key: str, config: Mapping[str, Any] | Any | None = None) -> nn.Module:
    """Build the architecture named key from a config dict (missing fields take defaults)."""
    return architecture_class(key)(make_config(key, config))


def _first(names: list[str]) -> str:
    return names[0] if names else ""


def _shape(shape: torch.Size | tuple[int, ...]) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def load_weights(net: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load state_dict into net strictly; raise WeightsMismatchError saying what does not fit."""
    expected = net.state_dict()
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        message = f"checkpoint entry {bad[0]!r} is not a tensor"
        raise WeightsMismatchError(message, unexpected=bad, missing=[], mismatched=[])
    unexpected = [k for k in state_dict if k not in expected]
    missing = [k for k in expected if k not in state_dict]
    # In the network's own order, so "first" is the layer nearest the input.
    mismatched = [
        k for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape
    ]
    if unexpected or missing or mismatched:
        key = architecture_key(net) or type(net).__name__
        parts = []
        if unexpected:
            parts.append(
                f"checkpoint has {len(unexpected)} tensors the {key} config does not expect "
                f"(first: {_first(unexpected)})"
            )
        if missing:
            parts.append(f"missing {len(missing)} (first: {_first(missing)})")
        if mismatched:
            name = mismatched[0]
            more = f" and {len(mismatched) - 1} more" if len(mismatched) > 1 else ""
            parts.append(
                f"shape mismatch at {name}: checkpoint {_shape(state_dict[name].shape)} vs "
                f"config {_shape(expected[name].shape)}{more}"
            )
        config = getattr(net, "config", None)
        fields = ", ".join(config_to_dict(config)) if config is not None else "the config"
        message = "; ".join(parts) + f" — check {key} config fields ({fields})"
        raise WeightsMismatchError(message, unexpected, missing, mismatched)
    try:
        net.load_state_dict(dict(state_dict), strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise WeightsMismatchError(str(exc).splitlines()[0], [], [], []) from None


def save_checkpoint(
    path: str | os.PathLike[str],
    net: nn.Module,
    key: str,
    config: Mapping[str, Any] | Any | None = None,
) -> None:
    """Write net's weights as safetensors with the architecture key and JSON config as metadata."""
    cls = architecture_class(key)
    if type(net) is not cls:
        raise ArchitectureConfigError(
            f"net is a {type(net).__name__} but key {key!r} names {cls.__name__}"
        )
    config = make_config(key, config if config is not None else getattr(net, "config", None))
    net_config = getattr(net, "config", None)
    if net_config is not None and config_to_dict(net_config) != config_to_dict(config):
        raise ArchitectureConfigError(
            f"config {config_to_dict(config)} differs from the one the net was built with "
            f"{config_to_dict(net_config)}"
        )
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    metadata = {
        METADATA_ARCHITECTURE: key,
        METADATA_CONFIG: json.dumps(config_to_dict(config), sort_keys=True),
    }
    payload = _sorted_header(safetensors.torch.save(tensors, metadata=metadata))
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _sorted_header(payload: bytes) -> bytes:
    """Rewrite the safetensors JSON header with sorted keys so equal weights give equal bytes."""
    # safetensors writes __metadata__ from a Rust HashMap: its key order changes between runs.
    header_len = int.from_bytes(payload[:8], "little")
    header = json.loads(payload[8 : 8 + header_len])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = text.encode()
    if len(encoded) > header_len:  # never expected; the unsorted header is still valid
        return payload
    padded = encoded + b" " * (header_len - len(encoded))  # safetensors pads with spaces too
    return payload[:8] + padded + payload[8 + header_len :]


def _metadata_from_bytes(data: bytes) -> dict[str, str] | None:
    """Parse the __metadata__ of a safetensors file held in memory."""
    if len(data) < 8:
        raise InvalidCheckpointError("not a safetensors file: too short")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise InvalidCheckpointError("not a safetensors file: bad header length")
    try:
        header = json.loads(bytes(data[8 : 8 + header_len]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidCheckpointError("not a safetensors file: header is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidCheckpointError("not a safetensors file: header is not a JSON object")
    metadata = header.get("__metadata__")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidCheckpointError("safetensors __metadata__ is not a JSON object")
    return metadata


def read_checkpoint_metadata(
    path_or_bytes: str | os.PathLike[str] | bytes,
) -> tuple[str | None, dict[str, Any] | None]:
    """Return (architecture key, config dict) from a checkpoint, or (None, None) if absent."""
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        metadata = _metadata_from_bytes(bytes(path_or_bytes))
    else:
        try:
            with safetensors.safe_open(os.fspath(path_or_bytes), framework="pt") as handle:
                metadata = handle.metadata()
        except safetensors.SafetensorError as exc:
            raise InvalidCheckpointError(f"not a safetensors file: {exc}") from None
    if not metadata or METADATA_ARCHITECTURE not in metadata:
        return None, None
    key = metadata[METADATA_ARCHITECTURE]
    raw_config = metadata.get(METADATA_CONFIG) or "{}"
    try:
        config = json.loads(raw_config)
    except (TypeError, json.JSONDecodeError):
        raise InvalidCheckpointError(f"{METADATA_CONFIG} metadata is not valid JSON") from None
    if not isinstance(key, str) or not isinstance(config, dict):
        raise InvalidCheckpointError(f"{METADATA_CONFIG} metadata is not a JSON object")
    return key, config


def load_checkpoint(path_or_bytes: str | os.PathLike[str] | bytes) -> nn.Module:
    """Rebuild the network a ganstudio safetensors checkpoint names, load it, set eval mode."""
    key, config = read_checkpoint_metadata(path_or_bytes)
    if key is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise InvalidCheckpointError(
            f"checkpoint has no {METADATA_ARCHITECTURE} metadata; known architectures: {known}"
        )
    net = build(key, config)
    try:
        if isinstance(path_or_bytes, bytes | bytearray | memoryview):
            state_dict = safetensors.torch.load(bytes(path_or_bytes))
        else:
            state_dict = safetensors.torch.load_file(os.fspath(path_or_bytes))
    except safetensors.SafetensorError as exc:
        raise InvalidCheckpointError(f"cannot read safetensors tensors: {exc}") from None
    load_weights(net, state_dict)
    return net.eval()
