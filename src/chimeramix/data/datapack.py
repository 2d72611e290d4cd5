"""``chimeramix data pack``: a small data root with only the train images that chosen splits use.

A data pack (not to be confused with a training pack: several runs trained as one model) is a data root like
any other (``<out>/<name>/train.npz`` and ``test.npz``), so every loader accepts it through ``--data-root``.
Its ``train.npz`` stores the used images in original-index order with their ``orig_index`` and the labels of
the full train set (``all_labels``), so the split rule picks the same indices as on the full data;
``test.npz`` is a byte-for-byte copy of the full test file (flags included). ``<out>/<name>/pack.json``
records what the data pack was made for.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chimeramix.data.datasets import (
    FOLDER_PREFIX,
    check_dataset_name,
    dataset_file,
    load_split,
    resolve_data_root,
    write_npz,
)
from chimeramix.data.splits import split
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_path, write_json


@dataclass(frozen=True)
class DataPackSummary:
    """What a data pack holds."""

    folder: Path
    """``<out>/<name>``."""
    train_images: int
    train_total: int
    test_images: int
    size_bytes: int


def make_data_pack(
    name: str,
    ks: Iterable[int],
    seeds: Iterable[int],
    out: str | Path,
    data_root: str | Path | None = None,
) -> DataPackSummary:
    """Write a pack of ``name`` for every (k, seed) pair into the data root ``out``."""
    check_dataset_name(name)
    if name.startswith(FOLDER_PREFIX):
        raise ChimeraMixError(
            f"{name} is a folder on disk and cannot be packed; pack a prepared dataset such as cifar10"
        )
    ks, seeds = sorted(set(ks)), sorted(set(seeds))
    if not ks or not seeds:
        raise ChimeraMixError("a pack needs at least one k and one seed; give e.g. --k 5,10 --seeds 0-4")
    root, out = resolve_data_root(data_root), Path(out).expanduser()
    if out.resolve() == root.resolve():
        raise ChimeraMixError(
            f"the pack would overwrite the full data in {root}; give --out a different folder"
        )
    train = load_split(name, "train", root)
    test = load_split(name, "test", root)  # read first: a broken test file fails before anything is written
    used = np.unique(np.concatenate([split(train, k, seed).indices for k in ks for seed in seeds]))
    arrays = {
        "images": train.take(used),
        "labels": train.labels[used],
        "classes": np.array(train.classes),
        "orig_index": used,
        "all_labels": train.labels,
        **train.flags,
    }
    folder = out / name
    write_npz(dataset_file(out, name, "train"), arrays)
    with atomic_path(dataset_file(out, name, "test")) as tmp:
        shutil.copyfile(dataset_file(root, name, "test"), tmp)
    write_json(folder / "pack.json", {"dataset": name, "k": ks, "seeds": seeds, "source": str(root)})
    size = sum(path.stat().st_size for path in folder.iterdir())
    return DataPackSummary(folder, len(used), len(train), len(test), size)
