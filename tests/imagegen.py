"""Small generated images (and broken ones) for upload tests."""

import io
import zipfile

import numpy as np
from PIL import Image


def image_bytes(
    fmt: str = "PNG",
    size: tuple[int, int] = (64, 48),
    color: object = (200, 30, 30),
    mode: str = "RGB",
    **save: object,
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def distinct_png(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    """A PNG whose bytes differ for every seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def exif_rotated_jpeg(size: tuple[int, int] = (80, 40), orientation: int = 6) -> bytes:
    """A landscape-stored JPEG whose EXIF says: rotate to portrait."""
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def sixteen_bit_png(size: tuple[int, int] = (32, 32), value: int = 40000) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0]), value, dtype=np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 10, 20))  # left half red, right half index 0 = transparent
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (120, 90), (10, 200, 10))
    return data[: len(data) // 2]


def huge_declared_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG whose header claims width×height pixels (a decompression bomb's first bytes)."""
    image = Image.new("1", (width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()
