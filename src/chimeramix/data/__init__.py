"""Datasets, small-data splits, same-class pairs, official downloads, user folders and packs."""

from chimeramix.data.datasets import (
    BUILTIN_DATASETS,
    ImageSet,
    cifair_duplicate_mask,
    load_split,
    resolve_data_root,
)
from chimeramix.data.splits import SameClassPartners, Split, repetition, split

__all__ = [
    "BUILTIN_DATASETS",
    "ImageSet",
    "SameClassPartners",
    "Split",
    "cifair_duplicate_mask",
    "load_split",
    "repetition",
    "resolve_data_root",
    "split",
]
