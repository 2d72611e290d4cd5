"""One split of a dataset in memory: images, labels, class names, per-image flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from chimeramix.errors import ChimeraMixError

SplitName = Literal["train", "test"]


@dataclass
class ImageSet:
    """One split (train or test) of a dataset.

    ``labels`` always covers the whole split in official order. ``images`` holds the pixels of the rows in
    ``orig_index`` (``None``: every image, in order). Use :meth:`take` to read images by original index.
    """

    name: str
    split: SplitName
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    orig_index: np.ndarray | None = None
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """Warnings about the data (skipped files, classes without test images, ...), for results and reports."""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.num_classes)

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Images at the given original indices (uint8, len(indices) x H x W x 3)."""
        indices = np.asarray(indices, dtype=np.int64)
        if self.orig_index is None:
            return self.images[indices]
        rows = np.searchsorted(self.orig_index, indices)
        rows = np.clip(rows, 0, len(self.orig_index) - 1)
        missing = indices[self.orig_index[rows] != indices]
        if len(missing):
            raise ChimeraMixError(
                f"the packed {self.name} data lacks {len(missing)} of the requested train images "
                f"(e.g. index {int(missing[0])}); rebuild the data pack with `chimeramix data pack` for this k "
                "and seed, or point --data-root at the full data"
            )
        return self.images[rows]
