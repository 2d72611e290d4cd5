"""Dataset names, the data root, and the prepared-npz layout.

A prepared dataset lives in ``<root>/<name>/train.npz`` and ``<root>/<name>/test.npz``; each holds ``images``
(uint8, N x H x W x 3, RGB), ``labels`` (int64, N) and ``classes`` (strings in label order). Extra boolean
arrays of length N are per-image flags (CIFAR-10's test set carries the ciFAIR duplicate flags).

A *data pack* (``chimeramix data pack``) is a data root whose ``train.npz`` stores only the images some splits use:
it adds ``orig_index`` (the original train index of each stored image) and ``all_labels`` (the labels of the
full train set, so the split rule gives the same indices as on the full data).
"""

from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chimeramix.config import DataConfig
from chimeramix.data.imageset import ImageSet, SplitName
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write
from chimeramix.protocol import DATASETS, FOLDER_PREFIX

BUILTIN_DATASETS: tuple[str, ...] = tuple(DATASETS)
"""The names of the registry (``chimeramix.protocol.DATASETS``)."""
DATA_ROOT_ENV = "CHIMERAMIX_DATA"

CIFAIR_DUPLICATE_FLAGS = ("cifair_dup_of_train", "cifair_dup_within_test", "cifair_replaced")
"""Test-set flags whose union is the set of CIFAR test images that ciFAIR replaces (``cifair_replaced``:
set by ``chimeramix data prepare``, which compares the CIFAR and ciFAIR test images)."""


def default_data_root() -> Path:
    """``$CHIMERAMIX_DATA`` if set, else the per-user cache directory."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser()
    return user_cache_dir() / "chimeramix" / "data"


def user_cache_dir() -> Path:
    """The per-user cache folder: ``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS, else
    ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def resolve_data_root(data_root: str | os.PathLike[str] | None) -> Path:
    """The data root a command uses: the argument, else ``$CHIMERAMIX_DATA``, else the user cache."""
    return Path(data_root).expanduser() if data_root else default_data_root()


def check_dataset_name(name: str) -> None:
    """Raise a clear error for a name that is neither built in nor ``folder:PATH``."""
    if name in BUILTIN_DATASETS:
        return
    if name.startswith(FOLDER_PREFIX) and len(name) > len(FOLDER_PREFIX):
        return
    if Path(name).expanduser().is_dir():
        raise ChimeraMixError(f"unknown dataset {name!r}; to train on the images of the folder {name}, give "
                              f"{FOLDER_PREFIX}{name} (one sub-folder of images per class)")
    raise ChimeraMixError(
        f"unknown dataset {name!r}; use one of {', '.join(BUILTIN_DATASETS)} or folder:PATH "
        "(a folder with one sub-folder of images per class)"
    )


def check_data_root(root: Path, name: str = "NAME") -> None:
    """Raise an error with the fix when the data root ``root`` is missing or empty (``name``: the dataset
    the fix prepares)."""
    if root.is_dir() and any(root.iterdir()):
        return
    state = "does not exist" if not root.is_dir() else "is empty"
    raise ChimeraMixError(
        f"data root {root} {state}; run `chimeramix data prepare {name} --data-root {root}`, "
        f"or pass --data-root / set {DATA_ROOT_ENV} to a folder that holds prepared data"
    )


def dataset_file(root: Path, name: str, split: SplitName) -> Path:
    return root / name / f"{split}.npz"


def load_split(
    name: str,
    split: SplitName,
    data_root: str | os.PathLike[str] | None = None,
    *,
    folder_image_size: int = 32,
) -> ImageSet:
    """Load one split of a dataset by name (built-in, prepared under the data root, or ``folder:PATH`` with
    the default folder options at ``folder_image_size``)."""
    check_dataset_name(name)
    if name.startswith(FOLDER_PREFIX):
        from chimeramix.data.folder import FolderOptions, load_folder_split
        from chimeramix.data.folder_scan import folder_path

        return load_folder_split(folder_path(name), split, FolderOptions(image_size=folder_image_size))
    return read_npz(prepared_file(name, split, data_root), name, split)


def prepared_file(name: str, split: SplitName, data_root: str | os.PathLike[str] | None = None) -> Path:
    """The npz file of a prepared built-in dataset's split; an error with the fix when it is missing."""
    root = resolve_data_root(data_root)
    check_data_root(root, name)
    path = dataset_file(root, name, split)
    if not path.is_file():
        raise ChimeraMixError(
            f"{name} is not prepared in {root} (no {path.relative_to(root)}); run "
            f"`chimeramix data prepare {name} --data-root {root}`"
        )
    return path


def load_data_split(data: DataConfig, split: SplitName) -> ImageSet:
    """One split of a run's data (a resolved :class:`DataConfig`): a built-in dataset, or a ``folder:``
    dataset with the config's folder options, checked against its content fingerprint."""
    if not data.dataset.startswith(FOLDER_PREFIX):
        return load_split(data.dataset, split, data.data_root)
    from chimeramix.data.folder import folder_options, load_folder_split
    from chimeramix.data.folder_scan import folder_path

    return load_folder_split(folder_path(data.dataset), split, folder_options(data))


def read_npz(path: Path, name: str, split: SplitName) -> ImageSet:
    """Read one prepared (or packed) npz file, checking the layout."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise ChimeraMixError(
            f"{path} is not a readable npz file ({error}); delete it and run `chimeramix data prepare {name}`"
        ) from None
    for key in ("images", "labels", "classes"):
        if key not in arrays:
            raise ChimeraMixError(
                f"{path} lacks the array {key!r} of the prepared layout; delete it and run "
                f"`chimeramix data prepare {name}`"
            )
    images, labels = arrays.pop("images"), arrays.pop("labels").astype(np.int64)
    classes = tuple(str(c) for c in arrays.pop("classes"))
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ChimeraMixError(
            f"{path}: images must be uint8 N x H x W x 3, found {images.dtype} {images.shape}; "
            f"rerun `chimeramix data prepare {name}`"
        )
    orig_index = arrays.pop("orig_index", None) if "all_labels" in arrays else None
    if orig_index is not None:
        labels = arrays.pop("all_labels").astype(np.int64)
        orig_index = orig_index.astype(np.int64)
    elif len(images) != len(labels):
        raise ChimeraMixError(f"{path}: {len(images)} images but {len(labels)} labels; rerun the preparation")
    flags = {
        key: value for key, value in arrays.items() if value.dtype == np.bool_ and len(value) == len(labels)
    }
    return ImageSet(name, split, images, labels, classes, orig_index, flags)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a prepared (or packed) npz file, compressed and atomically."""
    named: dict[str, Any] = dict(arrays)  # typed loosely: numpy's stub mixes names with allow_pickle
    atomic_write(path, lambda handle: np.savez_compressed(handle, **named))


@dataclass(frozen=True)
class SplitSummary:
    """What ``chimeramix data list`` shows of one npz file, read without decompressing the images."""

    path: Path
    stored: int
    """Images stored in the file (fewer than ``total`` in a pack)."""
    total: int
    """Images in the whole split."""
    image_size: tuple[int, int]
    classes: tuple[str, ...]


def summarize_npz(path: Path, name: str) -> SplitSummary:
    """Counts, image size and classes of one npz file; the image shape comes from the array header only."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("images.npy") as images:
            fmt = np.lib.format
            version = fmt.read_magic(images)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape = read_header(images)[0]
        with np.load(path, allow_pickle=False) as data:
            labels = data["all_labels" if "all_labels" in data.files else "labels"]
            classes = tuple(str(c) for c in data["classes"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ChimeraMixError(
            f"{path} is not a readable npz file of the prepared layout ({error}); delete it and run "
            f"`chimeramix data prepare {name}`"
        ) from None
    return SplitSummary(path, int(shape[0]), len(labels), (int(shape[1]), int(shape[2])), classes)


def cifair_duplicate_mask(test: ImageSet) -> np.ndarray | None:
    """Boolean mask of the test images that ciFAIR replaces (``None`` when the flags are absent)."""
    present = [test.flags[key] for key in CIFAIR_DUPLICATE_FLAGS if key in test.flags]
    if not present:
        return None
    return np.logical_or.reduce(present)
