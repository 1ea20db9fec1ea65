"""Generator architectures (torch nn.Modules) and their registry; imports nothing from ganstudio.

Build a network by key with `build("se-unet", {"base_width": 16})`; checkpoints are safetensors
files whose metadata names the architecture key and its JSON config, so a network is rebuilt
from `models/` and no code ever runs from a checkpoint.
"""

from models.registry import (
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
from models.se_unet import SEUNet, SEUNetConfig
from models.unet import UNet, UNetConfig

__all__ = [
    "ARCHITECTURES",
    "ArchitectureConfigError",
    "InvalidCheckpointError",
    "SEUNet",
    "SEUNetConfig",
    "UNet",
    "UNetConfig",
    "UnknownArchitectureError",
    "WeightsMismatchError",
    "build",
    "config_to_dict",
    "load_checkpoint",
    "load_weights",
    "read_checkpoint_metadata",
    "save_checkpoint",
]
