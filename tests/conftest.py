"""Fixtures shared by the test modules: the real data (when present) and small fabricated data roots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from chimeramix.data.datasets import write_npz

SHARED_DATA = Path(
    os.environ.get("CHIMERAMIX_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
"""The read-only real data beside the repository (``../shared/data``), or ``$CHIMERAMIX_SHARED_DATA``."""

TINY_CLASSES = tuple(f"class{c}" for c in range(10))
TINY_TRAIN_PER_CLASS = 12
TINY_TEST_PER_CLASS = 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` skip, with that reason, where no CUDA device is."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (benchmarks/gpu-session.sh runs the tests marked cuda)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user cache folder (measured run costs, ...) of the whole session: a temporary one, not the user's."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data root; the test is skipped when its CIFAR-10 is absent."""
    if not (SHARED_DATA / "cifar10" / "train.npz").is_file():
        pytest.skip(
            f"the real CIFAR-10 is not in {SHARED_DATA} (set CHIMERAMIX_SHARED_DATA to its data root)"
        )
    return SHARED_DATA


def fabricate_split(rng: np.random.Generator, per_class: int, size: int = 8) -> dict[str, np.ndarray]:
    """Random uint8 images, 10 classes with ``per_class`` each, labels in shuffled (CIFAR-like) order."""
    labels = rng.permutation(np.repeat(np.arange(len(TINY_CLASSES)), per_class)).astype(np.int64)
    images = rng.integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    return {"images": images, "labels": labels, "classes": np.array(TINY_CLASSES)}


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding a fabricated ``cifar10``: 8 x 8 px, 12 train and 3 test images per class.

    The test set carries a ``cifair_dup_of_train`` flag on its first two images.
    """
    root = tmp_path_factory.mktemp("tiny-data")
    rng = np.random.default_rng(1234)
    write_npz(root / "cifar10" / "train.npz", fabricate_split(rng, TINY_TRAIN_PER_CLASS))
    test = fabricate_split(rng, TINY_TEST_PER_CLASS)
    test["cifair_dup_of_train"] = np.arange(len(test["labels"])) < 2
    write_npz(root / "cifar10" / "test.npz", test)
    return root


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Run torch on one thread: tiny networks are many small ops, which threads slow down (badly so when
    other processes share the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Interrupt(Exception):
    """A simulated crash of a run (see :class:`CheckpointStop`)."""


class CheckpointStop:
    """Kills runs right after a checkpoint: :meth:`after` makes a trainer module's ``save_checkpoint`` raise
    once it has written its ``count``-th checkpoint, and after every later one; :meth:`undo` restores it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def after(self, module: ModuleType, count: int = 1, error: type[BaseException] = Interrupt) -> None:
        save = module.save_checkpoint
        written = 0

        def save_then_stop(run_dir: Path, **kwargs: Any) -> Path:
            nonlocal written
            folder: Path = save(run_dir, **kwargs)
            written += 1
            if written >= count:
                raise error
            return folder

        self.monkeypatch.setattr(module, "save_checkpoint", save_then_stop)

    def undo(self) -> None:
        self.monkeypatch.undo()


@pytest.fixture
def checkpoint_stop(monkeypatch: pytest.MonkeyPatch) -> CheckpointStop:
    """Kills runs right after a checkpoint (:class:`CheckpointStop`); raises :class:`Interrupt` by default."""
    return CheckpointStop(monkeypatch)
