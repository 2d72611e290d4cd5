"""Small-data splits and per-epoch repetition (the paper's protocol), and how the split of a trained run differs from
the one a classifier wants (:func:`data_problems`).

A split takes k images per class from the full train set::

    rng = numpy.random.default_rng(seed)
    for each class c in label order: shuffle the indices of class c, keep the first k
    shuffle the union

Shuffling a class does not depend on k, so the splits of one seed are nested across k, and CIFAR and ciFAIR
(same train set) give the same images. Seeds 0..4 are the paper's five splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chimeramix.config import DataConfig
from chimeramix.data.imageset import ImageSet
from chimeramix.errors import ChimeraMixError
from chimeramix.protocol import repetition_factor, train_set


@dataclass(frozen=True)
class Split:
    """The k training images per class chosen by one seed."""

    k: int
    seed: int
    indices: np.ndarray
    """Original train indices of all chosen images, in the protocol's shuffled order."""
    per_class: tuple[np.ndarray, ...]
    """Chosen original indices of each class, in that class's shuffled order."""

    def labels(self, all_labels: np.ndarray) -> np.ndarray:
        return all_labels[self.indices]


def split(dataset: ImageSet | np.ndarray, k: int, seed: int) -> Split:
    """Choose k images per class with the protocol's rule (see the module docstring).

    ``dataset`` is a train :class:`ImageSet` or the label array of the full train set.

    >>> labels = np.array([0, 1, 0, 1, 0, 1])
    >>> s = split(labels, 2, seed=0)
    >>> sorted(np.bincount(labels[s.indices]).tolist())
    [2, 2]
    """
    labels = dataset.labels if isinstance(dataset, ImageSet) else np.asarray(dataset, dtype=np.int64)
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ChimeraMixError(f"seed must be a non-negative integer, got {seed}; the paper's splits are 0..4")
    if k < 1:
        raise ChimeraMixError(f"k (images per class) must be at least 1, got {k}")
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    counts = np.bincount(labels, minlength=num_classes)
    if num_classes == 0 or counts.min() < k:
        smallest = int(counts.min()) if num_classes else 0
        raise ChimeraMixError(
            f"k = {k} images per class is more than the smallest class holds ({smallest}); "
            f"choose k <= {smallest}"
        )
    rng = np.random.default_rng(seed)
    per_class = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        per_class.append(rng.permutation(members)[:k])
    union = rng.permutation(np.concatenate(per_class))
    return Split(k=k, seed=int(seed), indices=union, per_class=tuple(per_class))


def repetition(k: int, base: int) -> int:
    """Dataset repetitions per epoch, ``max(R // k, 1)`` (R = 500 for 32 px data, 120 for STL-10)."""
    if k < 1 or base < 1:
        raise ChimeraMixError(f"k and R must be positive, got k = {k}, R = {base}")
    return repetition_factor(k, base)


def epoch_order(seed: int, epoch: int, count: int, repetition: int) -> np.ndarray:
    """Positions of one epoch: ``count`` images repeated ``repetition`` times, shuffled by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count * repetition) % count


def data_problems(trained: DataConfig, wanted: DataConfig) -> list[str]:
    """How a trained run's data (a generator's, a teacher's) differs from a classifier's: train set, image size,
    k, split seed."""
    problems = []
    if _train_images(trained) != _train_images(wanted):
        same_name = trained.dataset == wanted.dataset
        problems.append(f"dataset {trained.dataset} (not {wanted.dataset})" if not same_name else
                        f"other images or folder options of {trained.dataset} (content {trained.fingerprint}, "
                        f"{trained.folder_image_size} px; not {wanted.fingerprint}, {wanted.folder_image_size} px)")
    if trained.k != wanted.k:
        problems.append(f"k = {trained.k} (not {wanted.k})")
    if trained.seed != wanted.seed:
        problems.append(f"split seed {trained.seed} (not {wanted.seed})")
    return problems


def _train_images(data: DataConfig) -> tuple[str, int, str | None, int, float]:
    """What decides a dataset's training images: the train set, and for a folder its image size, content and
    test split."""
    name = train_set(data.dataset)
    if not name.startswith("folder:"):
        return name, 0, None, 0, 0.0
    return name, data.folder_image_size or 0, data.fingerprint, data.folder_folds, data.folder_test_fraction
