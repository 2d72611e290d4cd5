"""Datasets, small-data splits, same-class pairs, official downloads, user folders and packs."""

from chimeramix.data.datasets import (
    BUILTIN_DATASETS,
    ImageSet,
    cifair_duplicate_mask,
    load_split,
    resolve_data_root,
)
from chimeramix.data.splits import SameClassPartners, Split, epoch_order, repetition, split
from chimeramix.data.subset import TrainingSet, load_training_set

__all__ = [
    "BUILTIN_DATASETS",
    "ImageSet",
    "SameClassPartners",
    "Split",
    "TrainingSet",
    "cifair_duplicate_mask",
    "epoch_order",
    "load_split",
    "load_training_set",
    "repetition",
    "resolve_data_root",
    "split",
]
