"""Decode, validate and convert images: the one place that turns any accepted upload into RGB.

Every image that reaches GAN Studio — a sample, a mask, a web-test photo — is probed here before
anything is stored, and every consumer that needs pixels (thumbnails now, model input later)
gets them from `load_rgb`, so a CMYK JPEG or a 16-bit PNG looks the same everywhere.
"""

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import BinaryIO, cast

import numpy as np
from PIL import ExifTags, Image, ImageMode, ImageOps, UnidentifiedImageError

from ganstudio.storage import png

# Formats Pillow decodes safely and that photos come in. Pillow is told to try only these, so an
# exotic decoder (EPS runs Ghostscript, for one) is never reached by an upload.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
BROWSER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP"}  # shown as-is; others via a preview
THUMBNAIL_PX = 320
MAX_FILENAME_CHARS = 120
BACKGROUND = (255, 255, 255)  # what transparent pixels become
# The pixel limit is counted for 8-bit RGB; a mode with more bytes per pixel (RGBA, CMYK,
# 16- and 32-bit gray, float) may have proportionally fewer, so decoding never holds more.
BUDGET_BYTES_PER_PIXEL = 3
WIDE_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
BAND_ROWS = 256  # wide-gray images are converted this many rows at a time
# EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
SIDEWAYS_ORIENTATIONS = (5, 6, 7, 8)


class ImageRejectedError(ValueError):
    """The bytes are not an image GAN Studio accepts; the message says why, for a person."""


@dataclass(frozen=True)
class ImageFacts:
    format: str  # Pillow's format name, e.g. "JPEG"
    mode: str  # Pillow's mode as stored, e.g. "RGB", "CMYK", "I;16", "P"
    width: int  # after EXIF orientation: the size a person sees
    height: int


def _open(stream: BinaryIO, *, max_pixels: int) -> Image.Image:
    """Open (header only) and refuse what is not an accepted format or is too many pixels."""
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Our own limit (below) decides; Pillow's global one only errors at twice its value.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageRejectedError(
            f"it declares too many pixels (the limit is {max_pixels:,}); this looks like a "
            "decompression bomb — send a smaller image"
        ) from None
    except UnidentifiedImageError:
        raise ImageRejectedError(
            "it is not an image GAN Studio can read (accepted: JPEG, PNG, WebP, GIF, BMP, TIFF)"
        ) from None
    except Exception as exc:  # Pillow raises many types for damaged headers
        raise ImageRejectedError(f"it is truncated or damaged ({_why(exc)})") from None
    if image.width * image.height > max_pixels:
        raise ImageRejectedError(
            f"it is {image.width}×{image.height} = {image.width * image.height:,} pixels, over "
            f"the {max_pixels:,}-pixel limit (a decompression-bomb guard); send a smaller image"
        )
    needed, budget = decoded_bytes(image), max_pixels * BUDGET_BYTES_PER_PIXEL
    if needed > budget:
        per_pixel = needed // (image.width * image.height)
        raise ImageRejectedError(
            f"it is {image.width}×{image.height} pixels in mode {image.mode} ({per_pixel} bytes "
            f"a pixel), {needed / 1e6:,.0f} MB to decode, over the {budget / 1e6:,.0f} MB "
            f"limit; send it as an 8-bit image, or at most {budget // per_pixel:,} pixels"
        )
    return image


def decoded_bytes(image: Image.Image) -> int:
    """Return how many bytes the image's pixels take once decoded, in its own mode."""
    mode = ImageMode.getmode(image.mode)
    per_pixel = np.dtype(mode.typestr).itemsize * len(mode.bands)
    return image.width * image.height * per_pixel


def _why(exc: Exception) -> str:
    return str(exc)[:160] or exc.__class__.__name__


def probe_image(stream: BinaryIO, *, max_pixels: int) -> ImageFacts:
    """Fully decode `stream` once to prove it is whole; return what it is. Raises if not."""
    image = _open(stream, max_pixels=max_pixels)
    facts_mode, facts_format = image.mode, image.format or "?"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            # The orientation tag alone gives the size a person sees; rotating would copy.
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except OSError as exc:
        raise ImageRejectedError(f"the image data is truncated or corrupt ({_why(exc)})") from None
    except Exception as exc:
        raise ImageRejectedError(f"the image data cannot be decoded ({_why(exc)})") from None
    width, height = image.size
    if orientation in SIDEWAYS_ORIENTATIONS:
        width, height = height, width
    return ImageFacts(facts_format, facts_mode, width, height)


def load_rgb(source: BinaryIO | bytes, *, max_pixels: int = 100_000_000) -> Image.Image:
    """Return the image as 8-bit RGB, oriented as a person sees it. Conversions:

    - EXIF orientation is applied (a phone's portrait photo stays portrait);
    - alpha (RGBA, LA, PA, palette with transparency) is composited over white;
    - palette and 1-bit images are expanded through their palette / to gray;
    - 16-bit and 32-bit integer images (I;16, I) are scaled to 8 bits (value / 257 for
      16-bit data) instead of clipped; float images (F) are scaled from 0–1 or clipped to 0–255
      (NaN becomes 0); they are converted a band of rows at a time, in float32;
    - CMYK (and YCbCr, LAB) go through Pillow's conversion to RGB (Adobe-inverted CMYK JPEGs
      are handled by the JPEG decoder; embedded ICC profiles are not applied);
    - grayscale (L) is repeated over three channels.
    Model input and thumbnails both come from here.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    image = _open(stream, max_pixels=max_pixels)
    image.load()
    ImageOps.exif_transpose(image, in_place=True)  # in place: no second copy of the pixels
    if image.mode in WIDE_GRAY_MODES:
        image = _wide_gray_to_l(image)  # rebinding frees the wide pixels before RGB is made
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a decoded image of any mode to 8-bit RGB (see `load_rgb` for the rules)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in WIDE_GRAY_MODES:
        image = _wide_gray_to_l(image)
    elif mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode in ("P", "1"):
        image = image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _wide_gray_to_l(image: Image.Image) -> Image.Image:
    """Scale a 16-bit, 32-bit or float gray image to 8 bits, in bands of rows, in float32."""
    width, height = image.size
    gray = np.empty((height, width), dtype=np.uint8)
    scale = 255.0 / 65535.0 if image.mode.startswith("I;16") else 1.0
    if image.mode == "F":
        peak = max((_finite_max(band) for band in _bands(image)), default=0.0)
        scale = 255.0 if peak <= 1.0 else 1.0
    elif image.mode == "I":
        _low, high = cast(tuple[int, int], image.getextrema())  # one band: (min, max)
        scale = 255.0 / 65535.0 if high > 255 else 1.0
    for top, band in zip(range(0, height, BAND_ROWS), _bands(image), strict=True):
        np.multiply(band, scale, out=band)
        np.nan_to_num(band, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(np.rint(band, out=band), 0, 255, out=band)
        gray[top : top + band.shape[0]] = band
    return Image.fromarray(gray)


def _bands(image: Image.Image):
    """Yield the image's rows, BAND_ROWS at a time, as float32 arrays (H, W)."""
    for top in range(0, image.height, BAND_ROWS):
        box = (0, top, image.width, min(image.height, top + BAND_ROWS))
        yield np.array(image.crop(box), dtype=np.float32)  # a writable copy of one band


def _finite_max(band: np.ndarray) -> float:
    finite = band[np.isfinite(band)]
    return float(finite.max()) if finite.size else 0.0


def load_mask(stream: BinaryIO, *, max_pixels: int) -> Image.Image:
    """Return a mask as 8-bit grayscale (L), oriented; alpha is dropped, colour is averaged."""
    return load_rgb(stream, max_pixels=max_pixels).convert("L")


def png_bytes(image: Image.Image, *, fast: bool = False) -> bytes:
    """Encode a lossless PNG; `fast` is for renders, made in bulk and waited for.

    `fast` RGB is compressed in strips on several threads (storage/png.py): on two cores ~4×
    faster than OpenCV's libpng and Pillow's level 1, and ~20% smaller on toon-like outputs
    (bench/png_encode.py prints all three). PNG is lossless: the pixels are the same.
    """
    if fast and image.mode == "RGB":
        return png.encode_rgb(np.asarray(image))
    buffer = io.BytesIO()
    if fast:
        image.save(buffer, format="PNG", compress_level=1)
    else:
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def make_thumbnail(source: BinaryIO | bytes, *, max_pixels: int, size: int = THUMBNAIL_PX) -> bytes:
    """Return a WebP thumbnail (longest side `size`) of an image, converted by `load_rgb`."""
    return thumbnail_of(load_rgb(source, max_pixels=max_pixels), size=size)


def thumbnail_of(image: Image.Image, *, size: int = THUMBNAIL_PX) -> bytes:
    """Return a WebP thumbnail (longest side `size`) of an RGB image already in memory."""
    image = image.copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=82, method=4)
    return buffer.getvalue()


_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def clean_filename(name: str, *, fallback: str = "unnamed") -> str:
    """Return a display-safe file name: the last path part, no control characters, capped."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_CHARS.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and len(ext) <= 10 else ""
        keep = MAX_FILENAME_CHARS - len(ext) - 2
        name = f"{(stem if ext else name)[:keep]}…" + (f".{ext}" if ext else "")
    return name
