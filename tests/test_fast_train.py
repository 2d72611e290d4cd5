"""The trainers' fast path (``fast=True``) on a CPU: the same logs and weights as the reference path, runs
resumable across the two paths, the per-epoch NaN check, and the ``--fast`` options.

On a CPU the fast path runs its steps eagerly (no CUDA graphs, no side stream), so every number must match
exactly; the CUDA graphs themselves are checked in ``test_fast_step.py``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch

from chimeramix.checkpoint import latest_checkpoint
from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import build_parser
from chimeramix.cli import sweep as sweep_cli
from chimeramix.cli.generator import config_from
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.runner import SweepReport
from chimeramix.experiments.worker import RunOptions
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.train import run as run_module
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")

PATHS = ("reference", "fast")


def data(root: Path) -> DataConfig:
    return DataConfig("cifar10", k=2, seed=0, data_root=str(root))


def tiny_generator(root: Path, **changes: Any) -> GeneratorConfig:
    """20 images, 3 steps per epoch, 2 epochs of a 4-channel generator."""
    return GeneratorConfig(data=data(root), blocks=2, mix_after=1, base_channels=4, batch_size=8, repetition=2,
                           epochs=2, checkpoint_every=1, device="cpu", **changes)


def tiny_classifier(root: Path, generator: Path, **changes: Any) -> ClassifierConfig:
    """ChimeraMix+Grid (the frozen generator replaces half of the batches), WRN-10-1, 2 epochs of 5 steps."""
    return ClassifierConfig(data=data(root), method="chimeramix-grid", generator=str(generator),
                            architecture="wrn-10-1", epochs=2, repetition=4, batch_size=8, cutout_size=4,
                            checkpoint_every=1, device="cpu", **changes)


def without_seconds(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in row.items() if key != "seconds"} for row in log]


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = safetensors.torch.load_file(first), safetensors.torch.load_file(second)
    assert a.keys() == b.keys()
    assert all(a[key].equal(b[key]) for key in a), first.name


@pytest.fixture(scope="module")
def generators(tiny_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny generator run on the reference and on the fast path."""
    runs = {}
    for path in PATHS:
        runs[path] = tmp_path_factory.mktemp(f"generator-{path}")
        train_generator(tiny_generator(tiny_data_root, fast=path == "fast"), runs[path], progress=False)
    return runs


@pytest.fixture(scope="module")
def classifiers(tiny_data_root: Path, generators: dict[str, Path],
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The same tiny classifier run on both paths (with the reference generator): path -> result."""
    results = {}
    for path in PATHS:
        run_dir = tmp_path_factory.mktemp(f"classifier-{path}")
        config = tiny_classifier(tiny_data_root, generators["reference"], fast=path == "fast")
        results[path] = {**train_classifier(config, run_dir, progress=False), "run_dir": run_dir}
    return results


def test_fast_generator_matches_the_reference(generators: dict[str, Path]) -> None:
    for name in ("generator.safetensors", "discriminator.safetensors"):
        assert_same_weights(generators["reference"] / name, generators["fast"] / name)
    logs = [(generators[path] / "log.csv").read_text().splitlines() for path in PATHS]
    assert [row.rsplit(",", 1)[0] for row in logs[0]] == [row.rsplit(",", 1)[0] for row in logs[1]]  # no seconds


def test_fast_classifier_matches_the_reference(classifiers: dict[str, dict[str, Any]]) -> None:
    reference, fast = classifiers["reference"], classifiers["fast"]
    assert without_seconds(fast["log"]) == without_seconds(reference["log"])
    assert fast["metrics"] == reference["metrics"]
    final = Path("checkpoints", "epoch-0002", "model.safetensors")
    assert_same_weights(reference["run_dir"] / final, fast["run_dir"] / final)


def test_a_fast_run_resumes_on_the_reference_path(tiny_data_root: Path, tmp_path: Path,
                                                  generators: dict[str, Path],
                                                  classifiers: dict[str, dict[str, Any]],
                                                  checkpoint_stop: CheckpointStop) -> None:
    config = tiny_classifier(tiny_data_root, generators["reference"], fast=True)
    checkpoint_stop.after(run_module)  # the first epoch's checkpoint
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path, progress=False)
    checkpoint_stop.undo()
    resumed = train_classifier(replace(config, fast=False), tmp_path, resume=True, progress=False)
    reference = classifiers["reference"]
    assert without_seconds(resumed["log"]) == without_seconds(reference["log"])
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["config"]["fast"] is False  # the resumed run's own settings


def test_fast_generator_checks_the_losses_per_epoch(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny_generator(tiny_data_root, w_rec=float("nan"), fast=True)
    with pytest.raises(ChimeraMixError, match=r"loss_g loss became nan in epoch 1 \(steps 1-3\).*none"):
        train_generator(config, tmp_path, progress=False)
    assert latest_checkpoint(tmp_path) is None


def test_fast_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_data_root: Path) -> None:
    parser = build_parser()
    train = ["generator", "train", "--k", "2", "--out", str(tmp_path)]
    assert config_from(parser.parse_args([*train, "--fast"])).fast
    assert not config_from(parser.parse_args(train)).fast

    used: list[RunOptions] = []

    def run_sweep(*args: Any, options: RunOptions, **kwargs: Any) -> SweepReport:
        used.append(options)
        return SweepReport()

    monkeypatch.setattr(sweep_cli, "run_sweep", run_sweep)
    sweep = ["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "5", "--seeds", "0",
             "--preset", "quick", "--store", str(tmp_path / "store"), "--no-progress",
             "--data-root", str(tiny_data_root)]
    for flags, fast in (([], False), (["--fast"], True)):
        args = parser.parse_args([*sweep, *flags])
        assert args.handler(args) == 0
        assert used[-1].fast is fast
