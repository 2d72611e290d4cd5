"""One image as the classifier sees it: any file Pillow reads, or an image in memory, as uint8 S x S RGB.

The policy (shared by ``folder:`` datasets and ``chimeramix predict``):

- decoded with Pillow, EXIF orientation applied, then made RGB: 16-bit (and 32-bit integer) grey is scaled to
  8 bits (value / 257); images with transparency (RGBA, LA, PA, or a palette/grey/RGB image with a
  transparent colour) are composited on white; every other mode (L, P, 1, CMYK, YCbCr, ...) is converted;
- the shorter side is scaled to ``image_size`` (bicubic, antialiased) and the centre square is cropped, so
  every image becomes ``image_size x image_size`` without distortion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
"""The file extensions (any case) read as images."""
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
RESIZE_RULE = ("converted to RGB (transparency on white, 16-bit grey / 257), EXIF orientation applied, the "
               "shorter side scaled to {size} px (bicubic, antialiased), the centre {size} x {size} square cropped")
"""The policy in one line, as bundles and exports document it (``{size}``: the side)."""


def is_image_file(path: Path) -> bool:
    """Whether ``path`` names a file the loader reads (by extension), hidden files excluded."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def decode_image(path: Path, image_size: int) -> np.ndarray:
    """One file as uint8 S x S x 3 RGB, following the policy of the module docstring."""
    with Image.open(path) as image:
        image.draft("RGB", (image_size, image_size))  # JPEG only: decode at a reduced scale, still >= size
        return fit_image(image, image_size)


def decode_or_reason(path: Path, image_size: int) -> np.ndarray | str:
    """:func:`decode_image`, or why the file cannot be read (a missing, damaged or non-image file)."""
    if not path.is_file():
        return "does not exist" if not path.exists() else "not a file"
    try:
        return decode_image(path, image_size)
    except UnidentifiedImageError:
        return "not an image"
    except Exception as error:  # a damaged file can fail anywhere in a decoder; report it, keep going
        return str(error) or type(error).__name__


def fit_image(image: Image.Image, image_size: int) -> np.ndarray:
    """An image in memory as uint8 S x S x 3 RGB (the policy of the module docstring)."""
    upright = ImageOps.exif_transpose(image)
    square = ImageOps.fit(to_rgb(upright), (image_size, image_size), method=Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.uint8)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: 16-bit grey scaled, transparency composited on white."""
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.clip(np.round(np.asarray(image, dtype=np.float64) / 257), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def shorter_side(path: Path) -> int | None:
    """The shorter side of an image file in pixels, read from its header (``None``: not readable)."""
    try:
        with Image.open(path) as image:
            return min(image.size)
    except Exception:  # a damaged file can fail anywhere in a decoder; the loader reports it
        return None
