"""Checkpoint formats, told from the bytes without torch: the worker decides before loading."""

import json
import zipfile
from typing import Any, BinaryIO

SAFE_EXPORT_HINT = (
    "Export a safe checkpoint instead: `from models import save_checkpoint; "
    "save_checkpoint('v4.safetensors', net, 'se-unet', net.config)`, or "
    "`torch.save(net.state_dict(), 'v4.pt')` and give the architecture and config when pushing."
)


class CheckpointError(ValueError):
    """The checkpoint cannot be used; the message says why and what to do."""


def detect_format(source: BinaryIO) -> str:
    """Return "safetensors", "torchscript", "torch-zip" or "pickle" from a checkpoint's bytes."""
    source.seek(0)
    head = source.read(16)
    source.seek(0)
    if len(head) >= 9:
        header_len = int.from_bytes(head[:8], "little")
        if 0 < header_len < 100 * 1024 * 1024 and head[8:9] == b"{":
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(source) as archive:
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
