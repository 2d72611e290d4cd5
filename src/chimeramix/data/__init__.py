"""Datasets, small-data splits, same-class pairs, official downloads, user folders and data packs.

The names that need PyTorch (same-class partners, the training subset on a device) are imported when first
used, so that planning and the command line's ``--help`` do not load it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chimeramix.data.datasets import (
    BUILTIN_DATASETS,
    ImageSet,
    cifair_duplicate_mask,
    load_data_split,
    load_split,
    resolve_data_root,
)
from chimeramix.data.splits import Split, epoch_order, repetition, split

if TYPE_CHECKING:
    from chimeramix.data.partners import SameClassPartners
    from chimeramix.data.subset import TrainingSet, load_training_set

LAZY = {"SameClassPartners": "chimeramix.data.partners", "TrainingSet": "chimeramix.data.subset",
        "load_training_set": "chimeramix.data.subset"}

__all__ = [
    "BUILTIN_DATASETS",
    "ImageSet",
    "SameClassPartners",
    "Split",
    "TrainingSet",
    "cifair_duplicate_mask",
    "epoch_order",
    "load_data_split",
    "load_split",
    "load_training_set",
    "repetition",
    "resolve_data_root",
    "split",
]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'chimeramix.data' has no attribute {name!r}")
