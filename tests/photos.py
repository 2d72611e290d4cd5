"""Folders of real photos for the tests: scikit-image's sample images, cropped, flipped and resized into
classes (one sample image per class), plus broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea")
"""Sample images of scikit-image (shipped with the package, no download), one class each."""


def photo_crops(name: str, count: int, side: int, seed: int = 0) -> list[Image.Image]:
    """``count`` random crops (50-90 % of the shorter side, half of them mirrored) of the sample photo
    ``name``, resized to ``side`` x ``side * 5 // 4`` pixels (wider than high, like photos)."""
    photo = Image.fromarray(getattr(skimage.data, name)())
    rng = np.random.default_rng([seed, PHOTOS.index(name) if name in PHOTOS else 99])
    crops = []
    for _ in range(count):
        size = int(min(photo.size) * rng.uniform(0.5, 0.9))
        left = int(rng.integers(0, photo.width - size + 1))
        top = int(rng.integers(0, photo.height - size + 1))
        crop = photo.crop((left, top, left + size, top + int(size * 0.8)))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crops.append(crop.resize((side * 5 // 4, side), Image.Resampling.BICUBIC))
    return crops


def make_photo_folder(root: Path, per_class: int = 6, side: int = 20, classes: tuple[str, ...] = PHOTOS,
                      seed: int = 0) -> Path:
    """A folder with one sub-folder of ``per_class`` crops per sample photo: PNG and JPEG files, every third
    in a nested folder ``more/``; returns ``root``."""
    for name in classes:
        for i, crop in enumerate(photo_crops(name, per_class, side, seed)):
            folder = root / name / ("more" if i % 3 == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            crop.save(folder / f"{name}-{i:02d}.{'jpg' if i % 2 else 'png'}")
    return root


def add_broken_files(folder: Path) -> list[Path]:
    """A truncated PNG, a text file named .jpg and an empty .png in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "whole.png")
    whole = (folder / "whole.png").read_bytes()
    (folder / "whole.png").unlink()
    broken = [folder / "truncated.png", folder / "text.jpg", folder / "empty.png"]
    broken[0].write_bytes(whole[: len(whole) // 2])
    broken[1].write_text("not an image")
    broken[2].write_bytes(b"")
    return broken
