"""Batched renders: a batch's outputs are exactly the images' own unbatched outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.config import Settings
from ganstudio.inference.executor import ExecutorRefusedError
from ganstudio.inference.networks import LoadedExecutor, render_batch, render_image, start_network
from tests import checkpoints as ck


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """Smooth, varied pixels: a saturated network output would hide any difference."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    planes = [np.sin(xs * rng.uniform(3, 9) + ys * rng.uniform(3, 9)) for _ in range(3)]
    return Image.fromarray(((np.stack(planes, axis=2) + 1) * 127.5).astype(np.uint8))


class SmallConvNet(torch.nn.Module):
    """A plain two-layer conv net: its output follows its input (and mask) closely, where a
    freshly initialised tiny U-Net's output is almost flat."""

    def __init__(self, channels: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(channels * 100 + seed)
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv2(torch.tanh(self.conv1(x))))


def loaded(settings: Settings, tmp_path: Path, channels: int = 3) -> LoadedExecutor:
    path = ck.torchscript_file(tmp_path / "net.pt", SmallConvNet(channels))
    return start_network(settings, path.read_bytes(), architecture=None, config=None, timeout=120)


def test_a_batch_equals_its_images_rendered_one_by_one(settings: Settings, tmp_path: Path) -> None:
    network = loaded(settings, tmp_path)
    try:
        images = [photo(seed, (52, 36)) for seed in range(5)]  # not a multiple of the stride
        alone = [np.asarray(render_image(network, im, None, timeout=60)) for im in images]
        batch = render_batch(network, [(im, None) for im in images], timeout=60)
        assert len(batch.outputs) == len(images)
        assert batch.forward_seconds > 0
        for one, together in zip(alone, batch.outputs, strict=True):
            assert np.array_equal(one, np.asarray(together))
        # The outputs differ between images: a batch that repeated one output would fail above.
        assert not np.array_equal(alone[0], alone[1])
    finally:
        network.executor.close()


def test_a_batch_of_four_channel_inputs_keeps_each_mask_with_its_image(
    settings: Settings, tmp_path: Path
) -> None:
    network = loaded(settings, tmp_path, channels=4)
    try:
        image = photo(7, (40, 32))
        masks = [Image.new("L", (40, 32), value) for value in (0, 255, 128)]
        alone = [np.asarray(render_image(network, image, m, timeout=60)) for m in masks]
        batch = render_batch(network, [(image, m) for m in masks], timeout=60)
        for one, together in zip(alone, batch.outputs, strict=True):
            assert np.array_equal(one, np.asarray(together))
        assert not np.array_equal(alone[0], alone[1])  # the mask reaches the network
    finally:
        network.executor.close()


def test_a_batch_must_be_of_one_size_and_the_executor_checks_its_bytes(
    settings: Settings, tmp_path: Path
) -> None:
    network = loaded(settings, tmp_path)
    try:
        with pytest.raises(ValueError, match="one size"):
            render_batch(
                network, [(photo(1, (32, 32)), None), (photo(2, (40, 32)), None)], timeout=60
            )
        with pytest.raises(ExecutorRefusedError, match="do not match"):
            network.executor.request(
                {"op": "render", "width": 8, "height": 8, "channels": 3, "count": 2},
                b"\0" * (8 * 8 * 3),
                timeout=60,
            )
        with pytest.raises(ExecutorRefusedError, match="malformed"):
            network.executor.request(
                {"op": "render", "width": 8, "height": 8, "channels": 3, "precision": "fp8"},
                b"\0" * (8 * 8 * 3),
                timeout=60,
            )
    finally:
        network.executor.close()


def test_a_short_gpu_batch_is_padded_to_the_batch_shape_without_changing_its_outputs() -> None:
    from ganstudio.inference.pipeline import forward_batch, pad_batch

    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    padded = pad_batch(pixels, 8)
    assert padded.shape == (8, 16, 24, 3)
    assert np.array_equal(padded[:3], pixels) and (padded[3:] == pixels[2]).all()
    assert pad_batch(pixels[:1], 8).shape[0] == 1  # one input is never padded
    assert pad_batch(pixels, 2) is pixels  # already as large as the shape
    net = SmallConvNet(3).eval()
    alone = forward_batch(net, pixels, stride=1)
    assert np.array_equal(forward_batch(net, padded, stride=1)[:3], alone)
