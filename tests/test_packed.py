"""Packs (``chimeramix.train.packed``): G runs trained as one vmapped model give what G lone runs give.

Without dropout a packed classifier run matches its lone run to floating-point tolerance (grouped and plain
convolutions sum in other orders): same augmentation draws, losses, weights and predictions; so does a packed
generator run. A pack resumes exactly, its runs resume alone, and configs that differ in more than the split
seed are refused.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from chimeramix.classifier.objective import ClassifierObjective
from chimeramix.classifier.trainer import pack_key, train_classifier
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.objective import AdversarialObjective
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.models.classifiers import build_classifier
from chimeramix.train import run as run_module
from chimeramix.train.stacking import StackedModules
from chimeramix.train.trainers import train_pack
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")

SEEDS = (0, 1, 2)


def data(root: Path, seed: int) -> DataConfig:
    return DataConfig("cifar10", k=2, seed=seed, data_root=str(root))


def tiny_generator(root: Path, seed: int, **changes: Any) -> GeneratorConfig:
    """A 4-channel generator, 3 steps per epoch, in fp32 (a CPU pack's precision) on every CPU."""
    values: dict[str, Any] = {"blocks": 2, "mix_after": 1, "base_channels": 4, "batch_size": 8, "repetition": 2,
                              "epochs": 1, "checkpoint_every": 1, "device": "cpu", "amp": False, **changes}
    return GeneratorConfig(data=data(root, seed), **values)


@pytest.fixture(scope="module")
def generators(tiny_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """A tiny finished generator per split seed (trained as one pack)."""
    runs = {seed: tmp_path_factory.mktemp(f"generator-{seed}") for seed in SEEDS}
    configs = [tiny_generator(tiny_data_root, seed) for seed in SEEDS]
    train_pack(configs, list(runs.values()), progress=False)
    return runs


def tiny(root: Path, seed: int, generators: dict[int, Path], **changes: Any) -> ClassifierConfig:
    """ChimeraMix+Grid without dropout, WRN-10-1, 2 epochs of 5 steps, in fp32 (a CPU pack's precision: lone runs
    compare with packs) on every CPU."""
    values: dict[str, Any] = {"method": "chimeramix-grid", "generator": str(generators[seed]),
                              "architecture": "wrn-10-1", "dropout": 0.0, "epochs": 2, "repetition": 4,
                              "batch_size": 8, "cutout_size": 4, "checkpoint_every": 1, "device": "cpu",
                              "amp": False, **changes}
    return ClassifierConfig(data=data(root, seed), **values)


def cell(root: Path, generators: dict[int, Path]) -> list[ClassifierConfig]:
    """The runs of SEEDS; the middle one with another method of the same batch form (cutout, no generator)."""
    return [tiny(root, seed, generators, **({"method": "cutout", "generator": None} if seed == SEEDS[1] else {}))
            for seed in SEEDS]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(run_dir / "checkpoints" / "epoch-0002" / "model.safetensors")


def losses(result: dict[str, Any]) -> list[float]:
    return [row["loss"] for row in result["log"]]


def same_predictions_but_near_ties(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Runs that agree to float tolerance predict the same classes, but for a near-tie that rounding flips:
    their confusion matrices differ in at most one of the 30 test images."""
    a, b = (torch.tensor(run["metrics"]["confusion_matrix"]) for run in (first, second))
    return int((a - b).abs().sum()) <= 2  # one image moved from one cell to another


@pytest.fixture(scope="module")
def lone_and_packed(tiny_data_root: Path, generators: dict[int, Path],
                    tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """The runs of :func:`cell` trained alone, and the same runs trained as one pack."""
    configs = cell(tiny_data_root, generators)
    lone = []
    for config in configs:
        run_dir = tmp_path_factory.mktemp("lone")
        lone.append({**train_classifier(config, run_dir, progress=False), "run_dir": run_dir})
    pack_dirs = [tmp_path_factory.mktemp("packed") for _ in configs]
    packed = [{**result, "run_dir": run_dir}
              for result, run_dir in zip(train_pack(configs, pack_dirs, progress=False), pack_dirs)]
    return {"lone": lone, "packed": packed}


def test_packed_runs_match_lone_runs(lone_and_packed: dict[str, list[dict[str, Any]]]) -> None:
    for lone, packed in zip(lone_and_packed["lone"], lone_and_packed["packed"]):
        assert packed["pack_size"] == len(SEEDS)
        assert packed["config"] == lone["config"]
        assert losses(packed) == pytest.approx(losses(lone), rel=1e-4)
        expected, actual = weights(lone["run_dir"]), weights(packed["run_dir"])
        assert expected.keys() == actual.keys()
        for name in expected:
            torch.testing.assert_close(actual[name], expected[name], rtol=1e-3, atol=1e-4, msg=name)
        assert same_predictions_but_near_ties(packed, lone)
    assert len({tuple(losses(run)) for run in lone_and_packed["packed"]}) == len(SEEDS)  # different runs
    assert [run["method"] for run in lone_and_packed["packed"]] == ["chimeramix-grid", "cutout", "chimeramix-grid"]


def test_a_pack_resumes_exactly_and_its_runs_resume_alone(
    tiny_data_root: Path, generators: dict[int, Path], tmp_path: Path,
    lone_and_packed: dict[str, list[dict[str, Any]]], checkpoint_stop: CheckpointStop,
) -> None:
    configs = cell(tiny_data_root, generators)
    run_dirs = [tmp_path / f"run-{seed}" for seed in SEEDS]
    checkpoint_stop.after(run_module, len(SEEDS) + 1)  # epoch 1 saved by every run, epoch 2 by the first
    with pytest.raises(Interrupt):
        train_pack(configs, run_dirs, progress=False)
    checkpoint_stop.undo()
    # the first run is at epoch 2, the others at epoch 1: they resume as a pack of two and a lone run. Lone
    # runs and packs of other sizes sum their convolutions in other orders (bit-exact on some CPUs, not on
    # others), so they agree with the uninterrupted pack of three as lone and packed runs do (rel 1e-4, see
    # test_packed_runs_match_lone_runs), not bitwise.
    resumed = train_pack(configs, run_dirs, resume=True, progress=False)
    for result, packed in zip(resumed, lone_and_packed["packed"]):
        assert losses(result) == pytest.approx(losses(packed), rel=1e-4)
        assert same_predictions_but_near_ties(result, packed)
    # the same interruption resumed the same way is bit-exact: the same computation
    again = [tmp_path / f"again-{seed}" for seed in SEEDS]
    checkpoint_stop.after(run_module, len(SEEDS) + 1)
    with pytest.raises(Interrupt):
        train_pack(configs, again, progress=False)
    checkpoint_stop.undo()
    for result, repeated in zip(resumed, train_pack(configs, again, resume=True, progress=False)):
        assert losses(repeated) == losses(result)
        assert repeated["metrics"] == result["metrics"]
    # a packed run resumes alone
    alone = replace(configs[1], epochs=3)
    with pytest.raises(ChimeraMixError, match="different config"):
        train_classifier(alone, run_dirs[1], resume=True, progress=False)


def test_a_lone_run_continues_in_a_pack(tiny_data_root: Path, generators: dict[int, Path], tmp_path: Path,
                                        lone_and_packed: dict[str, list[dict[str, Any]]],
                                        checkpoint_stop: CheckpointStop) -> None:
    configs = cell(tiny_data_root, generators)[:2]
    run_dirs = [tmp_path / f"run-{seed}" for seed in SEEDS[:2]]
    checkpoint_stop.after(run_module)
    for config, run_dir in zip(configs, run_dirs):  # both lone runs stop after epoch 1
        with pytest.raises(Interrupt):
            train_classifier(config, run_dir, progress=False)
    checkpoint_stop.undo()
    resumed = train_pack(configs, run_dirs, resume=True, progress=False)
    for result, lone in zip(resumed, lone_and_packed["lone"]):
        assert losses(result) == pytest.approx(losses(lone), rel=1e-4)
        assert same_predictions_but_near_ties(result, lone)


def test_packs_with_dropout_and_soft_targets_train(tiny_data_root: Path, tmp_path: Path) -> None:
    configs = [ClassifierConfig(data=data(tiny_data_root, seed), method="cutmix", architecture="wrn-10-1",
                                dropout=0.3, epochs=1, repetition=2, batch_size=8, device="cpu")
               for seed in SEEDS[:2]]
    results = train_pack(configs, [tmp_path / "a", tmp_path / "b"], progress=False)
    assert [result["steps"] for result in results] == [3, 3]
    assert losses(results[0]) != losses(results[1])


def test_runs_of_a_pack_may_differ_only_in_split_and_method(tiny_data_root: Path, generators: dict[int, Path],
                                                            tmp_path: Path) -> None:
    first, second = (tiny(tiny_data_root, seed, generators) for seed in SEEDS[:2])
    assert pack_key(first) == pack_key(second)
    assert pack_key(first) == pack_key(replace(second, method="cutout", generator=None))  # one form of batches
    refused = ((replace(second, lr=0.5), "lr"), (replace(second, data=replace(second.data, k=3)), "data.k"),
               (replace(second, method="mixup"), "batches.soft_labels"),
               (replace(second, method="cosine-loss"), "batches.loss"))
    for changed, field in refused:
        with pytest.raises(ChimeraMixError, match=rf"differ only in .*not in {field}"):
            train_pack([first, changed], [tmp_path / "a", tmp_path / "b"], progress=False)
    assert not (tmp_path / "a").exists()  # refused before anything is written


def test_stacked_modules_round_trip() -> None:
    torch.manual_seed(0)
    modules = [torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)) for _ in range(3)]
    stacked = StackedModules(modules)
    inputs = torch.randn(3, 5, 4)
    outputs = stacked(inputs)
    for index, module in enumerate(modules):  # the same batch statistics, and the same running statistics
        torch.testing.assert_close(outputs[index], module(inputs[index]))
    with torch.no_grad():
        stacked.parameters["0.weight"].add_(1.0)
    stacked.unstack_into(modules)
    for index, module in enumerate(modules):
        torch.testing.assert_close(module[0].weight, stacked.parameters["0.weight"][index].detach())
        torch.testing.assert_close(module[1].running_mean, stacked.buffers["1.running_mean"][index])


@pytest.mark.cuda
def test_a_graphed_pack_matches_an_eager_pack_on_cuda(tiny_data_root: Path, generators: dict[int, Path],
                                                      tmp_path: Path) -> None:
    """The fast path replays the pack's step as a CUDA graph (from step 4 on): the same losses as the eager
    pack (bf16 autocast on both; fused vs foreach SGD may round differently)."""
    results = {}
    for fast in (False, True):
        configs = [tiny(tiny_data_root, seed, generators, device="cuda", fast=fast, epochs=3) for seed in SEEDS]
        run_dirs = [tmp_path / f"{fast}-{seed}" for seed in SEEDS]
        results[fast] = train_pack(configs, run_dirs, progress=False)
    for eager, graphed in zip(results[False], results[True]):
        assert losses(graphed) == pytest.approx(losses(eager), rel=2e-2)


# ------------------------------------------------------------------------------------------------- generators


def generator_losses(run_dir: Path) -> list[list[float]]:
    """The losses of every epoch in the run's ``log.csv``."""
    with open(run_dir / "log.csv", encoding="utf-8") as handle:
        return [[float(row[name]) for name in ("loss_g", "rec", "lap", "adv", "loss_d")]
                for row in csv.DictReader(handle)]


def test_packed_generators_match_lone_generators(tiny_data_root: Path, tmp_path: Path) -> None:
    """Within the tolerance that Adam allows: it scales float-noise-sized gradients up to lr-sized steps, so
    the discriminator's losses drift apart by ~1e-3 after 6 steps on these ill-conditioned 8 px images (with
    SGD, or on 32 px images, packed and lone generators agree to ~1e-7)."""
    configs = [tiny_generator(tiny_data_root, seed, epochs=2, masks=MaskConfig(kind="seg")) for seed in (0, 1)]
    lone_dirs = [tmp_path / f"lone-{index}" for index in range(len(configs))]
    lone = [train_generator(config, run_dir, progress=False) for config, run_dir in zip(configs, lone_dirs)]
    pack_dirs = [tmp_path / f"packed-{index}" for index in range(len(configs))]
    packed = train_pack(configs, pack_dirs, progress=False)
    for index, (alone, together) in enumerate(zip(lone, packed)):
        assert together["pack_size"] == 2 and alone["pack_size"] == 1
        assert together["final"] == pytest.approx(alone["final"], rel=2e-3)
        for expected, actual in zip(generator_losses(lone_dirs[index]), generator_losses(pack_dirs[index])):
            assert actual == pytest.approx(expected, rel=2e-3)
        for name in ("generator.safetensors", "discriminator.safetensors"):
            expected_weights = safetensors.torch.load_file(tmp_path / f"lone-{index}" / name)
            actual_weights = safetensors.torch.load_file(pack_dirs[index] / name)
            for key in expected_weights:
                torch.testing.assert_close(actual_weights[key], expected_weights[key], rtol=1e-2, atol=5e-3)
        assert (pack_dirs[index] / "compositions.png").is_file()
    assert generator_losses(pack_dirs[0]) != generator_losses(pack_dirs[1])


def test_a_generator_pack_resumes_exactly(tiny_data_root: Path, tmp_path: Path,
                                          checkpoint_stop: CheckpointStop) -> None:
    configs = [tiny_generator(tiny_data_root, seed, epochs=2) for seed in SEEDS[:2]]
    full_dirs = [tmp_path / f"full-{seed}" for seed in SEEDS[:2]]
    train_pack(configs, full_dirs, progress=False)
    run_dirs = [tmp_path / f"run-{seed}" for seed in SEEDS[:2]]
    checkpoint_stop.after(run_module, 2)  # both runs saved epoch 1
    with pytest.raises(Interrupt):
        train_pack(configs, run_dirs, progress=False)
    checkpoint_stop.undo()
    resumed = train_pack(configs, run_dirs, resume=True, progress=False)
    for run_dir, full_dir in zip(run_dirs, full_dirs):
        assert generator_losses(run_dir) == generator_losses(full_dir)
    alone = train_generator(configs[0], run_dirs[0], resume=True, progress=False)  # finished: its result
    assert alone.pop("reused") is True and alone == resumed[0]


def test_a_pack_holds_one_kind_of_run(tiny_data_root: Path, generators: dict[int, Path], tmp_path: Path) -> None:
    mixed: list[Any] = [tiny_generator(tiny_data_root, 0), tiny(tiny_data_root, 1, generators)]
    with pytest.raises(ChimeraMixError, match="not several"):
        train_pack(mixed, [tmp_path / "a", tmp_path / "b"], progress=False)


def test_pack_steps_under_bf16_autocast() -> None:
    """The mixed-precision path of packs (bf16 autocast, used on CUDA), checked with CPU autocast."""
    torch.manual_seed(0)
    classifiers = [ClassifierObjective(build_classifier("wrn-10-1", 10, dropout=0.3), torch.nn.CrossEntropyLoss(),
                                       torch.bfloat16) for _ in range(2)]
    model = StackedModules(classifiers)
    optimizer = torch.optim.SGD(list(model.parameters.values()), lr=0.01, momentum=0.9, nesterov=True)
    soft = torch.softmax(torch.randn(2, 4, 10), dim=-1)  # mixed labels
    for targets in (torch.randint(0, 10, (2, 4)), soft):
        losses = ClassifierObjective.step(model, {"sgd": optimizer}, torch.randn(2, 4, 3, 16, 16), targets)
        assert losses.shape == (2,) and losses.dtype == torch.float32 and torch.isfinite(losses).all()

    for recipe in ("paper", "released"):  # released: the discriminator's fresh composite, under vmap too
        config = resolve_generator(GeneratorConfig(blocks=2, mix_after=1, base_channels=4, working_size=32,
                                                   recipe=recipe))
        objectives = [AdversarialObjective(MixingGenerator.from_config(config),
                                           PatchDiscriminator(architecture=config.discriminator or "paper"), config,
                                           lambda: torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False))
                      for _ in range(2)]
        stacked = StackedModules(objectives)
        optimizers = {name: torch.optim.Adam([p for key, p in stacked.parameters.items()
                                              if key.startswith(f"{name}.")])
                      for name in ("generator", "discriminator")}
        images = torch.rand(2, 2 * 2, 3, 32, 32) * 2 - 1  # per run: (x1, x2) of 2 pairs
        mask = (torch.rand(2, 2, 1, 8, 8) < 0.5).float()
        weights = torch.cat([mask, 1 - mask], 2)
        losses = AdversarialObjective.step(stacked, optimizers, images, weights, weights.flip(2),
                                           torch.tensor([0, 1]))
        assert losses.shape == (2, 5) and losses.dtype == torch.float32 and torch.isfinite(losses).all()
