"""Image probing and the one RGB conversion: orientation, alpha, palette, 16-bit, CMYK, names."""

import io

import numpy as np
import pytest
from PIL import Image

from ganstudio.storage.images import (
    ImageRejectedError,
    clean_filename,
    load_rgb,
    make_thumbnail,
    probe_image,
)
from tests import imagegen

MAX = 10_000_000


def test_exif_orientation_is_applied_to_facts_and_pixels() -> None:
    data = imagegen.exif_rotated_jpeg((80, 40), orientation=6)
    facts = probe_image(io.BytesIO(data), max_pixels=MAX)
    assert (facts.width, facts.height) == (40, 80)
    assert load_rgb(data).size == (40, 80)


def test_cmyk_becomes_the_right_rgb() -> None:
    data = imagegen.image_bytes("JPEG", (16, 16), (0, 255, 255, 0), mode="CMYK")
    assert probe_image(io.BytesIO(data), max_pixels=MAX).mode == "CMYK"
    r, g, b = load_rgb(data).getpixel((8, 8))
    assert r > 230 and g < 30 and b < 30  # cyan 0, magenta+yellow full → red


def test_sixteen_bit_gray_is_scaled_not_clipped() -> None:
    image = load_rgb(imagegen.sixteen_bit_png(value=40000))
    assert image.mode == "RGB"
    assert image.getpixel((3, 3)) == (156, 156, 156)  # 40000 / 257, not 255


def test_palette_transparency_and_alpha_go_over_white() -> None:
    image = load_rgb(imagegen.palette_png_with_transparency())
    assert image.getpixel((2, 5)) == (255, 0, 0)
    assert image.getpixel((15, 5)) == (255, 255, 255)
    rgba = imagegen.image_bytes("PNG", (8, 8), (0, 0, 255, 0), mode="RGBA")
    assert load_rgb(rgba).getpixel((4, 4)) == (255, 255, 255)
    half = imagegen.image_bytes("PNG", (8, 8), (0, 0, 0, 128), mode="RGBA")
    assert load_rgb(half).getpixel((4, 4))[0] in range(124, 130)


@pytest.mark.parametrize(
    "data",
    [
        imagegen.image_bytes("JPEG", mode="CMYK", color=(10, 20, 30, 40)),
        imagegen.sixteen_bit_png(),
        imagegen.palette_png_with_transparency(),
        imagegen.image_bytes("PNG", mode="LA", color=(90, 200)),
        imagegen.image_bytes("TIFF"),
        imagegen.image_bytes("GIF", mode="P", color=3),
        imagegen.image_bytes("BMP", mode="1", color=1),
    ],
)
def test_thumbnails_of_every_mode_are_rgb_webp(data: bytes) -> None:
    thumb = Image.open(io.BytesIO(make_thumbnail(data, max_pixels=MAX)))
    assert thumb.format == "WEBP"
    assert thumb.mode == "RGB"


def test_thumbnail_is_bounded_and_oriented() -> None:
    data = imagegen.image_bytes("PNG", (1000, 500))
    assert Image.open(io.BytesIO(make_thumbnail(data, max_pixels=MAX))).size == (320, 160)
    rotated = make_thumbnail(imagegen.exif_rotated_jpeg((800, 400)), max_pixels=MAX)
    assert Image.open(io.BytesIO(rotated)).size == (160, 320)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"just some text, not a picture", "not an image"),
        (imagegen.truncated_jpeg(), "truncated"),
        (imagegen.huge_declared_png(), "decompression"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|truncated"),
    ],
)
def test_bad_images_are_refused_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(ImageRejectedError, match=words):
        probe_image(io.BytesIO(data), max_pixels=MAX)


def test_pixel_limit_is_the_setting_not_pillows() -> None:
    data = imagegen.image_bytes("PNG", (100, 100))
    with pytest.raises(ImageRejectedError, match="over the 5,000-pixel limit"):
        probe_image(io.BytesIO(data), max_pixels=5000)


def test_clean_filename() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\x\\photo.JPG") == "photo.JPG"
    assert clean_filename("a\x00b\u202e\ngif.png") == "abgif.png"
    assert clean_filename("<img src=x onerror=alert(1)>.png") == "_img src=x onerror=alert(1)_.png"
    assert clean_filename("...") == "unnamed"
    long = clean_filename("x" * 500 + ".jpeg")
    assert len(long) <= 120 and long.endswith("….jpeg")
    assert np.all([ch.isprintable() for ch in clean_filename("\t\x7fname\x1b[31m.png")])


def float_tiff(values: np.ndarray) -> bytes:
    """A 32-bit float TIFF (mode F) of `values` (H, W), deflate-compressed."""
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.float32), mode="F").save(
        buffer, format="TIFF", compression="tiff_deflate"
    )
    return buffer.getvalue()


def test_float_and_32_bit_images_become_8_bit_gray() -> None:
    unit = np.full((300, 20), 0.5, dtype=np.float32)  # taller than one band of rows
    unit[0, 0], unit[299, 19] = np.nan, 1.0
    image = load_rgb(float_tiff(unit))
    assert image.mode == "RGB" and image.size == (20, 300)
    assert image.getpixel((0, 0)) == (0, 0, 0)  # NaN
    assert image.getpixel((5, 5)) == (128, 128, 128)  # 0–1 scaled to 0–255
    assert image.getpixel((19, 299)) == (255, 255, 255)
    wide = np.array([[-5.0, 100.4, 300.0]], dtype=np.float32)  # not 0–1: clipped, not scaled
    assert [load_rgb(float_tiff(wide)).getpixel((x, 0))[0] for x in range(3)] == [0, 100, 255]
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4), 40000, dtype=np.int32), mode="I").save(buffer, format="TIFF")
    assert load_rgb(buffer.getvalue()).getpixel((1, 1)) == (156, 156, 156)  # 40000 / 257


def test_converting_a_float_image_allocates_no_float64_copies() -> None:
    import tracemalloc

    data = float_tiff(np.tile(np.linspace(0, 1, 1000, dtype=np.float32), (1000, 1)))
    tracemalloc.start()
    try:
        load_rgb(data)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy's arrays are traced (Pillow's own buffers are not): one float64 copy of these
    # 1,000,000 pixels is 8 MB; bands of float32 rows and the 8-bit result stay below that.
    assert peak < 8_000_000, f"{peak:,} bytes of numpy/Python memory at the peak"


def test_the_decode_budget_counts_the_bytes_of_each_pixel() -> None:
    limit = 10_000  # pixels → a budget of 30,000 bytes (8-bit RGB at the pixel limit)
    rgb = imagegen.image_bytes("PNG", (100, 90))  # 9,000 pixels × 3 bytes: fits
    assert probe_image(io.BytesIO(rgb), max_pixels=limit).width == 100
    floats = float_tiff(np.zeros((90, 100)))  # 9,000 pixels × 4 bytes: too many bytes
    for decode in (
        lambda: probe_image(io.BytesIO(floats), max_pixels=limit),
        lambda: load_rgb(floats, max_pixels=limit),
    ):
        with pytest.raises(ImageRejectedError, match=r"mode F \(4 bytes a pixel\).*at most 7,500"):
            decode()
    sixteen = imagegen.sixteen_bit_png(size=(100, 90))  # 2 bytes a pixel: fits
    assert load_rgb(sixteen, max_pixels=limit).size == (100, 90)


def test_fast_png_is_lossless_and_keeps_the_channel_order() -> None:
    from ganstudio.storage.images import png_bytes

    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    pixels[:10] = (255, 0, 0)  # a red band: swapped channels would turn it blue
    image = Image.fromarray(pixels)
    for fast in (True, False):
        decoded = Image.open(io.BytesIO(png_bytes(image, fast=fast)))
        assert decoded.mode == "RGB" and np.array_equal(np.asarray(decoded), pixels)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (700, 513)])
def test_the_striped_png_encoder_decodes_to_the_same_pixels(shape: tuple[int, int]) -> None:
    from ganstudio.storage import png

    rng = np.random.default_rng(shape[0])
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    pixels[: shape[0] // 2] //= 16  # runs and noise: both kinds of rows
    encoded = png.encode_rgb(pixels)
    if pixels.nbytes > 2 * png.MIN_STRIP_BYTES and png.THREADS > 1:
        assert encoded.count(b"IDAT") == 1  # strips joined into one stream, not chunks
    decoded = Image.open(io.BytesIO(encoded))
    decoded.load()  # a broken stream or Adler-32 raises here
    assert decoded.mode == "RGB" and np.array_equal(np.asarray(decoded), pixels)
    with pytest.raises(ValueError, match="uint8"):
        png.encode_rgb(pixels.astype(np.uint16))
