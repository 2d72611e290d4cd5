"""Scanning an image folder (``folder:PATH``, laid out as :mod:`chimeramix.data.folder` says): its classes and
image files, what identifies its content (every file's stamp, the content fingerprint) and its typical image size,
where a run's folder is now, and decoding every image file once (cached by the files' stamps and the image size).
A bad layout is a :class:`~chimeramix.errors.DataError` that names the fix."""

from __future__ import annotations

import functools
import hashlib
import os
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chimeramix.config import DataConfig
from chimeramix.data.decode import IMAGE_EXTENSIONS, decode_or_reason, is_image_file, shorter_side
from chimeramix.errors import DataError
from chimeramix.protocol import FOLDER_PREFIX

EXTENSIONS_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))

Stamp = tuple[str, int, int]
"""A file as (path relative to the dataset folder, size in bytes, modification time in ns)."""
PerClass = tuple[tuple[str, ...], ...]
"""File paths (relative to the dataset folder) of each class, in label order."""


@dataclass(frozen=True)
class FolderListing:
    """The class folders of a dataset folder and their image files, before any decoding."""

    root: Path
    classes: tuple[str, ...]
    files: PerClass
    """Every class's images (held-out layout), or its ``train/`` images (fixed layout)."""
    test_files: PerClass | None
    """The ``test/`` images of the fixed layout; ``None`` for the held-out layout."""
    skipped: tuple[tuple[str, int], ...]
    """(extension, count) of the files that are not images the loader reads."""

    @property
    def stamps(self) -> tuple[Stamp, ...]:
        """Every image file with its size and modification time, sorted by path."""
        names = sorted(name for per_class in (*self.files, *(self.test_files or ())) for name in per_class)
        return tuple((name, *_size_and_time(self.root / name)) for name in names)


@dataclass(frozen=True)
class FolderFacts:
    """What a run needs to know of a folder before loading it."""

    listing: FolderListing
    fingerprint: str
    """16 hex digits of a SHA-256 over every image file's path and bytes."""
    median_side: int
    """The median shorter side of the images, in pixels (from the file headers)."""


def folder_path(dataset: str) -> Path:
    """The folder of a ``folder:PATH`` dataset name (relative paths, as runs before absolute ones recorded, are
    relative to the working directory)."""
    return Path(dataset[len(FOLDER_PREFIX) :]).expanduser()


def absolute_dataset(dataset: str) -> str:
    """``folder:PATH`` with ``PATH`` absolute and resolved (what configs record, so that a run folder, a store
    or a bundle names its data wherever it is opened from); other names as they are."""
    if not dataset.startswith(FOLDER_PREFIX):
        return dataset
    return f"{FOLDER_PREFIX}{folder_path(dataset).resolve()}"


def locate_folder(data: DataConfig, data_folder: str | os.PathLike[str] | None = None) -> DataConfig:
    """The data config of a finished run, with its image folder at ``data_folder`` when given (where it is now;
    loading it still checks the content fingerprint). A folder that is no longer where the run recorded it is an
    error that names the recorded path and ``--data-folder``; built-in datasets are returned as they are."""
    if not data.dataset.startswith(FOLDER_PREFIX):
        return data
    if data_folder is not None:
        return replace(data, dataset=absolute_dataset(f"{FOLDER_PREFIX}{data_folder}"))
    path = folder_path(data.dataset)
    if not path.is_dir():
        relative = "" if path.is_absolute() else f" (a path relative to where the run was started; from here: " \
                                                   f"{path.resolve()})"
        raise DataError(f"this run was trained on the image folder {path}{relative}, which is not there any more "
                        "(moved, renamed or deleted?); pass --data-folder PATH to say where it is now")
    return data


def describe_folder(path: Path) -> FolderFacts:
    """The listing, content fingerprint and typical image size of the folder ``path``."""
    listing = list_folder(path)
    stamps = listing.stamps
    return FolderFacts(listing, content_fingerprint(str(path), stamps), _median_side(str(path), stamps))


def list_folder(path: Path) -> FolderListing:
    """The classes and image files of the folder ``path`` (see the module docstring); bad layouts are errors."""
    if path.is_file():
        raise DataError(f"{FOLDER_PREFIX}{path} names a file, not a folder; give {FOLDER_PREFIX}PATH of a folder "
                        "with one sub-folder of images per class")
    if not path.is_dir():
        raise DataError(
            f"image folder {path} does not exist; give {FOLDER_PREFIX}PATH with one sub-folder of images per class"
        )
    skipped: Counter[str] = Counter()
    if (path / "train").is_dir() and (path / "test").is_dir():
        classes, files = _list_classes(path, "train", skipped)
        test_classes, test_files = _list_classes(path, "test", skipped, allow_empty=True)
        if test_classes != classes:
            raise DataError(
                f"the class folders of {path / 'train'} and {path / 'test'} differ "
                f"(only in train: {sorted(set(classes) - set(test_classes))}, only in test: "
                f"{sorted(set(test_classes) - set(classes))}); give both the same class folders"
            )
    else:
        (classes, files), test_files = _list_classes(path, "", skipped), None
    return FolderListing(path, classes, files, test_files, tuple(sorted(skipped.items())))


def _list_classes(root: Path, split: str, skipped: Counter[str], *, allow_empty: bool = False
                  ) -> tuple[tuple[str, ...], PerClass]:
    """Class names (sorted sub-folder names of ``root/split``) and each class's image files (sorted)."""
    folder = root / split
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{folder} has no class sub-folders; put the images of each class in "
                              f"{folder}/<class name>/")
    if len(class_dirs) == 1:
        raise DataError(f"{folder} has a single class folder ({class_dirs[0].name}); a classifier needs at "
                              f"least two classes: add one sub-folder of images per class")
    files = []
    for class_dir in class_dirs:
        entries = [p for p in class_dir.rglob("*") if p.is_file() and not _hidden(p, class_dir)]
        skipped.update(p.suffix.lower() or "(no extension)" for p in entries if not is_image_file(p))
        files.append(tuple(sorted(str(p.relative_to(root)) for p in entries if is_image_file(p))))
    empty = [str(class_dir) for class_dir, images in zip(class_dirs, files) if not images]
    if empty and not allow_empty:
        raise DataError(f"class folder(s) {', '.join(empty)} hold no images ({EXTENSIONS_TEXT}); add "
                              "images or remove the folder(s)")
    return tuple(class_dir.name for class_dir in class_dirs), tuple(files)


def _hidden(path: Path, below: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(below).parts)


@functools.lru_cache(maxsize=2)
def decode_folder(listing: FolderListing, stamps: tuple[Stamp, ...], image_size: int
                  ) -> tuple[dict[str, int], np.ndarray, dict[str, str]]:
    """Every image file of a folder decoded once (``stamps`` keys the cache: a changed file is read anew): the
    row of each readable file in the pixels, the uint8 N x S x S x 3 pixels, and why the others cannot be read."""
    names = [name for name, _, _ in stamps]
    pixels, bad = decode_files(listing.root, names, image_size)
    return {name: row for row, name in enumerate(names) if name not in bad}, pixels, bad


def decode_files(root: Path, names: list[str], image_size: int) -> tuple[np.ndarray, dict[str, str]]:
    """Decode every file (uint8 N x S x S x 3; unreadable files stay black) and the reasons of those that
    cannot be read, by name."""
    pixels = np.zeros((len(names), image_size, image_size, 3), dtype=np.uint8)
    bad = {}
    for i, name in enumerate(names):
        decoded = decode_or_reason(root / name, image_size)
        if isinstance(decoded, str):
            bad[name] = decoded
        else:
            pixels[i] = decoded
    return pixels, bad


@functools.lru_cache(maxsize=8)
def content_fingerprint(root: str, stamps: tuple[Stamp, ...]) -> str:
    """16 hex digits of a SHA-256 over every file's relative path and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        with open(Path(root) / name, "rb") as handle:
            digest.update(f"{name}\0{hashlib.file_digest(handle, 'sha256').hexdigest()}\n".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _median_side(root: str, stamps: tuple[Stamp, ...]) -> int:
    sides = [side for name, _, _ in stamps if (side := shorter_side(Path(root) / name)) is not None]
    return int(statistics.median(sides)) if sides else 0


def _size_and_time(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns
