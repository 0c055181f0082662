"""Loading pictures: the images a manifest points at, and any image file as 8-bit RGB.

Every reward, judge and probe takes 8-bit RGB. ``open_rgb`` turns a file into
that by fixed rules, or raises ``BadImageError`` naming the file and the fault;
it never hands on a half-decoded picture:

- empty, unrecognised, truncated or corrupt files are rejected (a PNG is
  checked chunk by chunk, CRCs and the closing IEND chunk included, so a
  copy cut short is caught even when its pixel data happen to be complete);
- a picture of more than ``MAX_PIXELS`` pixels is rejected from its header,
  before any decoding (a decompression bomb, or not a picture meant for a
  reward model);
- transparency (RGBA, LA, PA, premultiplied RGBa, a palette or grey level
  marked transparent) is composited over white,
  ``out = round((c * a + 255 * (255 - a)) / 255)``, as a transparent picture is
  shown on a page; PIL's own ``convert("RGB")`` would instead drop alpha and
  expose whatever colour the transparent pixels happen to store;
- 16-bit grey (I;16 in any byte order) is scaled, ``round(v * 255 / 65535)``;
  PIL's ``convert`` would clip every value above 255 to white. (16-bit RGB
  PNGs are decoded by PIL to their high bytes, ``floor(v / 256)``.)
- palette images are expanded through their palette; 1-bit, grey, YCbCr and
  RGBX are converted by PIL; CMYK by PIL's
  ``R = (255 - C) * (255 - K) / 255`` (rounded), likewise for G and B;
- pixel modes with no defined 8-bit range (32-bit integer I, float F) or no
  conversion here (LAB, HSV, ...) are rejected;
- embedded colour profiles and EXIF orientation are not applied (pixels as
  stored), and a multi-frame file gives its first frame.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from .contracts import OK
from .errors import BadImageError, ImageIntegrityError

__all__ = ["MAX_PIXELS", "BadImageError", "ImageIntegrityError", "load_image", "missing_reason",
           "open_rgb", "pair_index"]

# 8192 x 8192, whose RGB array alone takes 192 MiB: anything larger is a decompression bomb or a mistake.
MAX_PIXELS = 8192 * 8192

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa")
_SIXTEEN_BIT_GREY = ("I;16", "I;16L", "I;16B", "I;16N")
_CONVERTED_BY_PIL = ("RGB", "RGBX", "L", "1", "P", "CMYK", "YCbCr")
# What PIL raises on a damaged file, beside its own OSError("image file is truncated").
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


def open_rgb(source: str | os.PathLike | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The picture in ``source`` (a path, or encoded bytes) as a loaded 8-bit RGB image.

    ``name`` is what error messages call the picture (default: its path).
    Raises ``BadImageError`` by the rules of the module docstring; a missing
    file raises ``FileNotFoundError``.
    """
    data = source if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    data = bytes(data)
    label = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<{len(data)} bytes>")
    if not data:
        raise BadImageError(label, "empty file (0 bytes)")
    with warnings.catch_warnings():
        # Size is checked below against max_pixels, not PIL's process-wide limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        _check_header_and_chunks(data, label, max_pixels)
        with Image.open(io.BytesIO(data)) as image:
            try:
                image.load()
            except _DECODE_ERRORS as err:
                raise BadImageError(label, f"truncated or corrupt {image.format} data: {err}") from None
            return _to_rgb(image, label)


def _check_header_and_chunks(data: bytes, label: str, max_pixels: int) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise BadImageError(label, f"{width} x {height} = {width * height} pixels exceeds the limit of "
                                           f"{max_pixels} (a decompression bomb?)")
            if image.format == "PNG":
                image.verify()
    except UnidentifiedImageError:
        raise BadImageError(label, f"not a recognised image format ({len(data)} bytes; corrupt, or not an image)") \
            from None
    except Image.DecompressionBombError as err:
        raise BadImageError(label, f"too many pixels (a decompression bomb?): {err}") from None
    except _DECODE_ERRORS as err:
        raise BadImageError(label, f"truncated or corrupt PNG: {err}") from None


def _to_rgb(image: Image.Image, label: str) -> Image.Image:
    mode = image.mode
    if mode in _SIXTEEN_BIT_GREY:
        if "transparency" in image.info:
            raise BadImageError(label, f"{mode} with a transparent grey level has no defined RGB conversion")
        wide = np.asarray(image).astype(np.int64)  # asarray honours the byte order of I;16B
        grey = ((wide * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535), never a tie
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")
    if mode in _ALPHA_MODES or (mode in _CONVERTED_BY_PIL and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA")).astype(np.int64)
        colour, alpha = rgba[..., :3], rgba[..., 3:]
        # Integer form of round((c * a + 255 * (255 - a)) / 255); the quotient is never exactly x.5.
        over_white = (colour * alpha + 255 * (255 - alpha) + 127) // 255
        return Image.fromarray(over_white.astype(np.uint8), "RGB")
    if mode in _CONVERTED_BY_PIL:
        return image.convert("RGB")
    raise BadImageError(label, f"pixel mode {mode!r} has no defined conversion to 8-bit RGB")


def load_image(run_dir: str | Path, row: pd.Series | dict, verify: bool = True) -> Image.Image:
    """The manifest row's picture as RGB; with ``verify``, its bytes must match the row's sha256."""
    path = Path(run_dir) / row["path"]
    data = path.read_bytes()  # hashed and decoded from the same bytes
    if verify and hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise ImageIntegrityError(path, "does not match the sha256 in its manifest (changed or damaged since)")
    return open_rgb(data, name=str(path))


def pair_index(manifest: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """(prompt_id, image_kind) -> manifest row."""
    return {(row.prompt_id, row.image_kind): row for row in manifest.itertuples(index=False)}


def missing_reason(row) -> str | None:
    """Why a manifest row has no usable image, or None when it has one."""
    if row is None:
        return "image not in manifest"
    if row.status != OK:
        return f"image failed: {row.status}"
    return None
