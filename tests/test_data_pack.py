"""``data pack``: a split read from the pack equals the split read from the full data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chimeramix.cli import main
from chimeramix.data import cifair_duplicate_mask, load_split, split
from chimeramix.data.datapack import make_data_pack
from chimeramix.errors import ChimeraMixError


def assert_same_splits(full_root: Path, pack_root: Path, ks: list[int], seeds: list[int]) -> None:
    full, packed = load_split("cifar10", "train", full_root), load_split("cifar10", "train", pack_root)
    assert packed.orig_index is not None and len(packed.labels) == len(full.labels)
    for k in ks:
        for seed in seeds:
            expected, actual = split(full, k, seed), split(packed, k, seed)
            assert np.array_equal(expected.indices, actual.indices)
            assert np.array_equal(full.take(actual.indices), packed.take(actual.indices))
    full_test, packed_test = (
        load_split("cifar10", "test", full_root),
        load_split("cifar10", "test", pack_root),
    )
    assert np.array_equal(full_test.images, packed_test.images)
    full_mask, packed_mask = cifair_duplicate_mask(full_test), cifair_duplicate_mask(packed_test)
    assert full_mask is not None and packed_mask is not None and np.array_equal(full_mask, packed_mask)


def test_pack_round_trip_on_fabricated_data(tiny_data_root: Path, tmp_path: Path) -> None:
    summary = make_data_pack("cifar10", [2, 5], [0, 1, 2], tmp_path / "pack", tiny_data_root)
    assert summary.train_total == 120 and summary.test_images == 30 and summary.train_images < 120
    assert_same_splits(tiny_data_root, tmp_path / "pack", [1, 2, 5], [0, 1, 2])
    packed = load_split("cifar10", "train", tmp_path / "pack")
    with pytest.raises(ChimeraMixError, match="rebuild the data pack"):
        packed.take(split(packed, 10, 0).indices)


def test_pack_of_the_real_cifar10_is_small_and_exact(shared_data: Path, tmp_path: Path) -> None:
    code = main(["data", "pack", "cifar10", "--data-root", str(shared_data), "--out", str(tmp_path / "pack")])
    assert code == 0
    size = sum(path.stat().st_size for path in (tmp_path / "pack" / "cifar10").iterdir())
    assert size < 45_000_000
    assert_same_splits(shared_data, tmp_path / "pack", [5, 100], [0, 4])


@pytest.mark.parametrize(
    ("name", "ks", "message"),
    [("folder:/x", [5], "cannot be packed"), ("cifar10", [], "at least one k"), ("cifar10", [13], "k = 13")],
)
def test_bad_pack_requests(
    tiny_data_root: Path, tmp_path: Path, name: str, ks: list[int], message: str
) -> None:
    with pytest.raises(ChimeraMixError, match=message):
        make_data_pack(name, ks, [0], tmp_path / "pack", tiny_data_root)
    assert not (tmp_path / "pack").exists()


def test_pack_never_overwrites_its_source(tiny_data_root: Path) -> None:
    with pytest.raises(ChimeraMixError, match="would overwrite the full data"):
        make_data_pack("cifar10", [2], [0], tiny_data_root, tiny_data_root)
