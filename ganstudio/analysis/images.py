"""The images an analysis shows: a heat map over the network's input, a grid of channels.

Made in the worker (numpy and Pillow only) and stored as blobs. The colour map is a small
inferno-like table shipped here as code (no matplotlib): perceptually ordered, dark to bright.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganstudio.analysis.regions import outline

# Inferno's stops (black → violet → red → orange → pale yellow), as the viewer's difference map.
STOPS = (
    (0.0, (0, 0, 4)),
    (0.13, (31, 12, 72)),
    (0.25, (85, 15, 109)),
    (0.38, (136, 34, 106)),
    (0.5, (186, 54, 85)),
    (0.63, (227, 89, 51)),
    (0.75, (249, 140, 10)),
    (0.88, (249, 201, 50)),
    (1.0, (252, 255, 164)),
)
OUTLINE = (0, 229, 255)  # the region's edge: cyan, apart from every colour of the map
SHOWN_SIDE = 384  # small network inputs are scaled up (whole times) so the outline reads


def colormap() -> np.ndarray:
    """The 256×3 uint8 lookup table of the colour map."""
    t = np.linspace(0, 1, 256)
    points = [s[0] for s in STOPS]
    table = np.stack([np.interp(t, points, [s[1][c] for s in STOPS]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


LUT = colormap()


def _scale_for(size: tuple[int, int]) -> int:
    return max(1, SHOWN_SIDE // max(size))


def heat_overlay(image: Image.Image, heatmap: np.ndarray, region: np.ndarray) -> Image.Image:
    """The heat map, coloured and alpha-blended over `image` (the network's input), with the
    region's outline. Where the map is cold the input shows through."""
    if heatmap.shape != (image.height, image.width) or region.shape != heatmap.shape:
        raise ValueError(
            f"heat map {heatmap.shape}, region {region.shape} and image {image.size} differ"
        )
    factor = _scale_for(image.size)
    size = (image.width * factor, image.height * factor)
    base = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC), np.float32)
    heat = np.clip(np.nan_to_num(heatmap.astype(np.float32)), 0, None)
    peak = float(heat.max())
    level = heat / peak if peak > 0 else heat
    level_image = Image.fromarray(level.astype(np.float32), mode="F")
    level = np.asarray(level_image.resize(size, Image.Resampling.BILINEAR), np.float32)
    level = np.clip(level, 0, 1)
    colour = LUT[np.round(level * 255).astype(np.uint8)].astype(np.float32)
    alpha = (0.25 + 0.6 * np.sqrt(level))[..., None]
    blended = base * (1 - alpha) + colour * alpha
    region_image = Image.fromarray(np.clip(region, 0, 1).astype(np.float32), mode="F")
    big_region = np.asarray(region_image.resize(size, Image.Resampling.NEAREST), np.float32)
    edge = outline(big_region)
    edge = edge | np.roll(edge, 1, axis=0) | np.roll(edge, 1, axis=1)  # 2 px wide
    blended[edge] = OUTLINE
    return Image.fromarray(np.round(blended).astype(np.uint8), "RGB")


def heat_raw(heatmap: np.ndarray) -> Image.Image:
    """The map itself as a 16-bit grey PNG (0 = no mass, 65535 = the peak), for scripts."""
    heat = np.clip(np.nan_to_num(heatmap.astype(np.float64)), 0, None)
    peak = float(heat.max())
    scaled = np.round(heat / peak * 65535) if peak > 0 else heat
    return Image.fromarray(scaled.astype(np.uint16))


TILE = 112
GAP = 6
LABEL = 16
COLUMNS = 4
BACKGROUND = (24, 24, 27)
TEXT = (235, 235, 240)


def feature_grid(channels: list[tuple[int, np.ndarray]]) -> Image.Image:
    """A grid of channel activations (index, (h, w) uint8), each tile labelled `#index`."""
    if not channels:
        raise ValueError("a feature grid needs at least one channel")
    columns = min(COLUMNS, len(channels))
    rows = -(-len(channels) // columns)
    width = columns * TILE + (columns + 1) * GAP
    height = rows * (TILE + LABEL) + (rows + 1) * GAP
    grid = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for n, (index, pixels) in enumerate(channels):
        row, column = divmod(n, columns)
        x = GAP + column * (TILE + GAP)
        y = GAP + row * (TILE + LABEL + GAP)
        tile = Image.fromarray(LUT[np.asarray(pixels, np.uint8)], "RGB")
        h, w = tile.height, tile.width
        fit = TILE / max(h, w)
        shown = (max(1, round(w * fit)), max(1, round(h * fit)))
        tile = tile.resize(shown, Image.Resampling.NEAREST)
        grid.paste(tile, (x + (TILE - shown[0]) // 2, y + LABEL + (TILE - shown[1]) // 2))
        draw.text((x + 2, y + 2), f"#{index}", fill=TEXT, font=font)
    return grid
