"""The split rule (k images per class, seeded) and same-class partner sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chimeramix.data import ImageSet, SameClassPartners, split
from chimeramix.errors import ChimeraMixError


def shuffled_labels(per_class: int = 40, classes: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(classes), per_class))


@pytest.mark.parametrize("k", [1, 5, 17, 40])
def test_split_takes_k_per_class_from_that_class(k: int) -> None:
    labels = shuffled_labels()
    chosen = split(labels, k, seed=3)
    assert len(chosen.indices) == 5 * k and len(np.unique(chosen.indices)) == 5 * k
    assert np.bincount(labels[chosen.indices]).tolist() == [k] * 5
    for c, members in enumerate(chosen.per_class):
        assert (labels[members] == c).all()
    assert sorted(chosen.indices.tolist()) == sorted(np.concatenate(chosen.per_class).tolist())


def test_splits_are_nested_across_k_for_one_seed() -> None:
    labels = shuffled_labels()
    for seed in range(5):
        previous = None
        for k in (5, 10, 20, 30):
            current = split(labels, k, seed)
            if previous is not None:
                for small, large in zip(previous.per_class, current.per_class):
                    assert large[: len(small)].tolist() == small.tolist()
            previous = current


def test_split_is_deterministic_and_seeds_differ() -> None:
    labels = shuffled_labels()
    first, again = split(labels, 10, seed=1), split(labels, 10, seed=1)
    assert first.indices.tolist() == again.indices.tolist()
    assert set(split(labels, 10, seed=2).indices.tolist()) != set(first.indices.tolist())


def test_union_order_is_shuffled_not_class_sorted() -> None:
    chosen = split(shuffled_labels(), 10, seed=0)
    assert chosen.indices.tolist() != np.concatenate(chosen.per_class).tolist()


def test_cifar_and_cifair_give_the_same_split() -> None:
    """ciFAIR shares CIFAR's train set, so the same labels give the same images whatever the name."""
    labels = shuffled_labels()
    images = np.zeros((len(labels), 2, 2, 3), dtype=np.uint8)
    classes = tuple("abcde")
    cifar = ImageSet("cifar10", "train", images, labels, classes)
    cifair = ImageSet("cifair10", "train", images.copy(), labels.copy(), classes)
    for seed in range(5):
        assert split(cifar, 10, seed).indices.tolist() == split(cifair, 10, seed).indices.tolist()


@pytest.mark.parametrize(
    ("k", "seed", "message"),
    [(41, 0, "smallest class holds (40)"), (0, 0, "at least 1"), (5, -1, "non-negative")],
)
def test_split_rejects_bad_k_and_seed(k: int, seed: int, message: str) -> None:
    with pytest.raises(ChimeraMixError, match=message.replace("(", r"\(").replace(")", r"\)")):
        split(shuffled_labels(), k, seed)


def test_split_of_the_real_cifar10_is_pinned(shared_data: Path) -> None:
    """Guards the protocol against silent changes: seed 0, k 5 on the official train order."""
    with np.load(shared_data / "cifar10" / "train.npz") as data:
        labels = data["labels"]
    chosen = split(labels, 5, seed=0)
    assert chosen.per_class[0].tolist() == [22308, 12073, 2322, 46740, 30487]
    assert chosen.per_class[9].tolist() == [29551, 47469, 35636, 36329, 44056]
    assert np.bincount(labels[split(labels, 100, 4).indices]).tolist() == [100] * 10


def test_partners_share_the_class_and_are_seeded() -> None:
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 2])
    partners = SameClassPartners(labels)
    positions = torch.arange(len(labels)).repeat(50)
    drawn = partners.sample(positions, torch.Generator().manual_seed(7))
    assert torch.equal(labels[drawn], labels[positions])
    again = partners.sample(positions, torch.Generator().manual_seed(7))
    other = partners.sample(positions, torch.Generator().manual_seed(8))
    assert torch.equal(drawn, again) and not torch.equal(drawn, other)


def test_partners_are_uniform_over_the_class_including_itself() -> None:
    labels = torch.tensor([0, 1, 0, 1, 0, 0])  # class 0: positions 0, 2, 4, 5
    partners = SameClassPartners(labels)
    draws = 40_000
    drawn = partners.sample(torch.zeros(draws, dtype=torch.long), torch.Generator().manual_seed(0))
    counts = torch.bincount(drawn, minlength=len(labels)).float() / draws
    assert counts[[1, 3]].sum() == 0
    assert torch.allclose(counts[[0, 2, 4, 5]], torch.full((4,), 0.25), atol=0.01)
