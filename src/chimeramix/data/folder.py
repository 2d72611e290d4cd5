"""A user's own images as a dataset (``folder:PATH``).

Layout and policy:

- ``PATH/<class name>/<image files>``: one sub-folder per class; classes are the sub-folder names in sorted
  order (label = position). Images are PNG, JPEG, BMP or WebP, by file extension (any case); hidden entries
  (names starting with ``.``) and files with other extensions are ignored. A class folder without images is
  an error that names it.
- Test split: if ``PATH`` holds ``train/`` and ``test/`` sub-folders, those are the two splits (each laid out
  as above, with the same class folders). Otherwise a held-out test split is drawn per class: with
  ``numpy.random.default_rng(test_seed)`` (seed 0 by default, independent of the train-split seed) each
  class's files are shuffled and the first ``round(test_fraction * n)`` go to test, clipped so that at least
  one image stays in train and a class of two or more images gives at least one test image. Within a split,
  images keep the class-then-file-name order.
- Pixels: decoded with Pillow, EXIF orientation applied, then made RGB: 16-bit (and 32-bit integer) grey is
  scaled to 8 bits (value / 257); images with transparency (RGBA, LA, PA, or a palette/grey/RGB image with a
  transparent colour) are composited on white; every other mode (L, P, 1, CMYK, YCbCr, ...) is converted.
- Size: the shorter side is scaled to ``image_size`` (bicubic, antialiased) and the centre square is cropped,
  so every image becomes ``image_size x image_size`` without distortion.
- Unreadable or truncated files do not stop the loading: all of them (train and test) are collected and
  reported in one error that lists the first few and their count.

Decoded arrays are kept in memory for the last folder loaded (keyed by file names, sizes and modification
times), so loading its train and then its test split decodes each file once; nothing is written to disk.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from chimeramix.data.imageset import ImageSet, SplitName
from chimeramix.errors import ChimeraMixError
from chimeramix.protocol import FOLDER_PREFIX

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
MAX_LISTED_FILES = 10
"""How many bad files an error message names before it gives only the count."""

Stamp = tuple[str, int, int]
"""A file as (path relative to the dataset folder, size in bytes, modification time in ns)."""


def load_folder_split(
    path: Path, split: SplitName, image_size: int, test_fraction: float = 0.2, *, test_seed: int = 0
) -> ImageSet:
    """One split of the image folder ``path`` as an :class:`ImageSet` (see the module docstring)."""
    if image_size < 1:
        raise ChimeraMixError(f"the folder image size must be a positive number of pixels, got {image_size}")
    if not 0 < test_fraction < 1:
        raise ChimeraMixError(f"the folder test fraction must lie between 0 and 1, got {test_fraction}")
    if not path.is_dir():
        raise ChimeraMixError(
            f"image folder {path} does not exist; give {FOLDER_PREFIX}PATH with one sub-folder of images "
            "per class"
        )
    if (path / "train").is_dir() and (path / "test").is_dir():
        classes, train_files = list_classes(path / "train")
        test_classes, test_files = list_classes(path / "test")
        if test_classes != classes:
            raise ChimeraMixError(
                f"the class folders of {path / 'train'} and {path / 'test'} differ "
                f"(only in train: {sorted(set(classes) - set(test_classes))}, only in test: "
                f"{sorted(set(test_classes) - set(classes))}); give both the same class folders"
            )
    else:
        classes, files = list_classes(path)
        train_files, test_files = hold_out(files, test_fraction, test_seed)
    stamps = tuple(stamp(path, file) for per_class in (*train_files, *test_files) for file in per_class)
    pixels = decode_files(str(path), stamps, image_size)
    chosen = train_files if split == "train" else test_files
    start = 0 if split == "train" else sum(len(files) for files in train_files)
    labels = np.concatenate([np.full(len(files), c, dtype=np.int64) for c, files in enumerate(chosen)])
    images = pixels[start : start + len(labels)].copy()  # the cached pixels stay untouched by callers
    return ImageSet(f"{FOLDER_PREFIX}{path}", split, images, labels, classes)


def list_classes(folder: Path) -> tuple[tuple[str, ...], list[list[Path]]]:
    """Class names (sorted sub-folder names) and each class's image files (sorted)."""
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise ChimeraMixError(
            f"{folder} has no class sub-folders; put the images of each class in {folder}/<class name>/"
        )
    files = [
        sorted(
            p
            for p in class_dir.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        for class_dir in class_dirs
    ]
    empty = [str(class_dir) for class_dir, images in zip(class_dirs, files) if not images]
    if empty:
        raise ChimeraMixError(
            f"class folder(s) {', '.join(empty)} hold no PNG, JPEG, BMP or WebP images; add images or remove "
            "the folder(s)"
        )
    return tuple(class_dir.name for class_dir in class_dirs), files


def hold_out(
    files: list[list[Path]], test_fraction: float, seed: int
) -> tuple[list[list[Path]], list[list[Path]]]:
    """Split each class's files into train and test by the seeded, stratified rule (module docstring)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for class_files in files:
        n = len(class_files)
        n_test = 0 if n < 2 else min(max(int(n * test_fraction + 0.5), 1), n - 1)
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[:n_test]] = True
        train.append([f for f, held in zip(class_files, is_test) if not held])
        test.append([f for f, held in zip(class_files, is_test) if held])
    return train, test


def stamp(root: Path, file: Path) -> Stamp:
    status = file.stat()
    return str(file.relative_to(root)), status.st_size, status.st_mtime_ns


@functools.lru_cache(maxsize=1)
def decode_files(root: str, stamps: tuple[Stamp, ...], image_size: int) -> np.ndarray:
    """Decode every file (uint8 N x S x S x 3); one error lists all files that cannot be read."""
    pixels = np.empty((len(stamps), image_size, image_size, 3), dtype=np.uint8)
    bad = []
    for i, (name, _, _) in enumerate(stamps):
        try:
            pixels[i] = decode_image(Path(root) / name, image_size)
        except UnidentifiedImageError:
            bad.append(f"{name} (not an image)")
        except Exception as error:  # a damaged file can fail anywhere in a decoder; report it, keep going
            bad.append(f"{name} ({error})")
    if bad:
        bad.sort()
        more = f" and {len(bad) - MAX_LISTED_FILES} more" if len(bad) > MAX_LISTED_FILES else ""
        raise ChimeraMixError(
            f"{len(bad)} file(s) in {root} cannot be read as images: "
            f"{'; '.join(bad[:MAX_LISTED_FILES])}{more}; remove or replace them"
        )
    return pixels


def decode_image(path: Path, image_size: int) -> np.ndarray:
    """One file as uint8 S x S x 3 RGB, following the policy of the module docstring."""
    with Image.open(path) as image:
        image.draft("RGB", (image_size, image_size))  # JPEG only: decode at a reduced scale, still >= size
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
