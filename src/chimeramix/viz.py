"""Image grids and PNG files: what people look at before they trust a split or a generator."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chimeramix.fileio import atomic_path

if TYPE_CHECKING:
    import torch


def to_uint8_images(images: torch.Tensor | np.ndarray, *, value_range: tuple[float, float] = (0, 255)) -> np.ndarray:
    """Convert a batch (N x 3 x H x W tensor, or N x H x W x 3 array) to uint8 N x H x W x 3.

    ``value_range`` is the range of the input values: (0, 255) for uint8 pixels, (-1, 1) for generator
    images, (0, 1) for masks.
    """
    array = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim == 3:  # N x H x W (masks): grey
        array = np.repeat(array[..., None], 3, axis=-1)
    elif array.shape[-1] != 3 and array.shape[1] in (1, 3):  # channels first
        array = np.moveaxis(array, 1, -1)
        if array.shape[-1] == 1:
            array = np.repeat(array, 3, axis=-1)
    low, high = value_range
    scaled = (array.astype(np.float64) - low) / (high - low) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def image_grid(rows: Sequence[np.ndarray], *, scale: int = 1, pad: int = 2, background: int = 255) -> np.ndarray:
    """Lay out rows of uint8 images (each row: n x H x W x 3, same H x W) as one uint8 H' x W' x 3 picture.

    Rows may have different lengths; ``scale`` enlarges every image by pixel repetition.
    """
    if not rows or all(len(row) == 0 for row in rows):
        raise ValueError("image_grid needs at least one image")
    height, width = next(row for row in rows if len(row)).shape[1:3]
    height, width = height * scale, width * scale
    columns = max(len(row) for row in rows)
    grid = np.full(
        (len(rows) * (height + pad) + pad, columns * (width + pad) + pad, 3), background, dtype=np.uint8
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            tile = image.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else image
            top, left = pad + r * (height + pad), pad + c * (width + pad)
            grid[top : top + height, left : left + width] = tile
    return grid


LABEL_HEIGHT = 16
"""Pixels of the strip of column labels above a picture."""


def label_columns(picture: np.ndarray, labels: Sequence[str], column_width: int, *, pad: int = 2,
                  colours: Sequence[tuple[int, int, int]] = ()) -> np.ndarray:
    """``picture`` (an :func:`image_grid` of columns ``column_width`` wide) with a white strip above it that names
    each column (``labels[i]``, in ``colours[i]`` when given, else black), centred over it."""
    strip = Image.new("RGB", (picture.shape[1], LABEL_HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=11)
    for i, label in enumerate(labels):
        width = draw.textlength(label, font=font)
        left = pad + i * (column_width + pad) + (column_width - width) / 2
        draw.text((max(left, 0), 2), label, fill=colours[i] if i < len(colours) else (0, 0, 0), font=font)
    return np.concatenate([np.asarray(strip, dtype=np.uint8), picture])


def save_png(picture: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write a uint8 H x W x 3 picture to a PNG file, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
