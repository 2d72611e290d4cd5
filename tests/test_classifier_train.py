"""Classifier training: the protocol's schedule and repetition, every method end to end, exact resume,
refusals of bad input, ``chimeramix run`` and the command line (tiny networks on tiny data)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch

from chimeramix import resolution
from chimeramix.classifier.trainer import cosine_lr, train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig, from_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.pipeline import run_experiment
from chimeramix.methods import COMPONENTS, parse_method
from chimeramix.methods.chimeramix.frozen_generator import generator_config
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.methods.frozen_run import check_generating_run
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.methods.glico.trainer import train_glico
from chimeramix.resolution import resolve_classifier
from chimeramix.rundir import RESULT_FILE
from chimeramix.train import run as run_module
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")

K = 2
TINY_GENERATOR = {"base_channels": 4, "blocks": 2, "mix_after": 1, "batch_size": 8, "checkpoint_every": 1,
                  "device": "cpu"}


def data(root: Path, k: int = K) -> DataConfig:
    return DataConfig("cifar10", k=k, seed=0, data_root=str(root))


def tiny(root: Path, method: str = "baseline", **overrides: Any) -> ClassifierConfig:
    """20 images of 8 x 8 px, WRN-10-1, 2 epochs of 5 steps."""
    values: dict[str, Any] = {"architecture": "wrn-10-1", "epochs": 2, "repetition": 4, "batch_size": 8,
                              "cutout_size": 4, "checkpoint_every": 1, "device": "cpu", **overrides}
    return ClassifierConfig(data=data(root), method=method, **values)


@pytest.fixture(scope="module")
def generators(tiny_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Finished tiny generator runs on the tiny split, one per mask kind, GLICO's, and a teacher (SuperMix's)."""
    runs = {}
    for mask in ("grid", "seg"):
        run_dir = tmp_path_factory.mktemp(f"generator-{mask}")
        config = GeneratorConfig(data=data(tiny_data_root), masks=MaskConfig(kind=mask), epochs=1, repetition=2,
                                 **TINY_GENERATOR)
        train_generator(config, run_dir, progress=False)
        runs[mask] = run_dir
    runs["glico"] = tmp_path_factory.mktemp("glico")
    train_glico(GlicoConfig(data=data(tiny_data_root), epochs=1, repetition=2, batch_size=8, latent_dim=16,
                            noise_dim=4, device="cpu"), runs["glico"], progress=False)
    runs["teacher"] = tmp_path_factory.mktemp("teacher")  # SuperMix's
    train_classifier(tiny(tiny_data_root, epochs=1), runs["teacher"], progress=False)
    return runs


# ------------------------------------------------------------------------------------------------ protocol


def test_protocol_values() -> None:
    cifar = resolve_classifier(ClassifierConfig(data=DataConfig("cifair10", k=10)))
    assert (cifar.architecture, cifar.batch_size, cifar.lr) == ("wrn-16-8", 10, 0.0046)
    assert cifar.weight_decay == 0.0053
    assert (cifar.repetition, cifar.crop_padding, cifar.cutout_size, cifar.dropout) == (500, 4, 16, 0.3)
    assert (cifar.momentum, cifar.nesterov, cifar.epochs) == (0.9, True, 200)
    assert resolve_classifier(ClassifierConfig(data=DataConfig("cifair100", k=10))).cutout_size == 8
    stl = resolve_classifier(ClassifierConfig(data=DataConfig("stl10", k=10)))
    assert (stl.architecture, stl.batch_size, stl.lr, stl.weight_decay) == ("resnet50", 16, 0.0074, 0.00041)
    assert (stl.repetition, stl.crop_padding, stl.cutout_size) == (120, 12, 24)
    combined = resolve_classifier(ClassifierConfig(method="trivialaugment+chimeramix-seg"))
    assert combined.method == "chimeramix-seg+trivialaugment"


@pytest.mark.parametrize(("repetition", "steps_per_epoch"), [(4, 5), (1, 3), (20, 25)])
def test_schedule_and_repetition(tiny_data_root: Path, tmp_path: Path, repetition: int,
                                 steps_per_epoch: int) -> None:
    config = tiny(tiny_data_root, repetition=repetition, lr=0.01)
    result = train_classifier(config, tmp_path, progress=False)
    total = 2 * steps_per_epoch  # ceil(20 images * max(R // 2, 1) / batch 8) per epoch
    assert [row["step"] for row in result["log"]] == [steps_per_epoch, total]
    for row in result["log"]:  # the lr of the next step: cosine annealing per step, from 0.01 to 0
        assert row["lr"] == pytest.approx(cosine_lr(row["step"], total, 0.01), abs=1e-12)
    assert result["log"][-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert result["steps"] == total


# ------------------------------------------------------------------------------------------- every method


METHODS = [name for name in COMPONENTS] + ["chimeramix-seg+trivialaugment", "chimeramix-grid+autoaugment",
                                           "mixup+cutout+cosine-loss"]


def test_runs_written_before_the_cosine_setting_moved_still_resume(tiny_data_root: Path, tmp_path: Path) -> None:
    """Configs of earlier versions hold ``cosine_with_ce`` beside the fields: ``false`` (every run's) is dropped
    when read, ``true`` is read as the cosine loss's section, so finished runs of both kinds resume as themselves."""
    runs = {"baseline": tiny(tiny_data_root, epochs=1),
            "cosine-loss": tiny(tiny_data_root, "cosine-loss", epochs=1,
                                method_settings={"cosine-loss": {"with_ce": True}})}
    for method, config in runs.items():
        train_classifier(config, tmp_path / method, progress=False)
        path = tmp_path / method / "config.json"
        stored = json.loads(path.read_text())
        stored["config"].pop("cosine-loss", None)
        stored["config"]["cosine_with_ce"] = method == "cosine-loss"
        path.write_text(json.dumps(stored))
        assert train_classifier(config, tmp_path / method, resume=True, progress=False)["reused"]
    assert from_dict(ClassifierConfig, {"cosine_with_ce": True}).method_settings == {"cosine-loss": {"with_ce": True}}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_end_to_end(tiny_data_root: Path, tmp_path: Path, generators: dict[str, Path],
                                 method: str) -> None:
    kind = "glico" if "glico" in method else "seg" if "seg" in method else "grid"
    generator = str(generators[kind]) if method.startswith(("chimeramix", "glico")) else None
    architecture = "scattering-wrn-1" if parse_method(method).front_end else "wrn-10-1"
    teacher = str(generators["teacher"]) if method == "supermix" else None
    sections = {"cosine-loss": {"with_ce": True}} if "cosine" in method else {}
    config = tiny(tiny_data_root, method, generator=generator, teacher=teacher, epochs=1, pair_mixing_p=1.0,
                  method_settings=sections, architecture=architecture)
    result = train_classifier(config, tmp_path, progress=False)
    stored = json.loads((tmp_path / RESULT_FILE).read_text())
    assert stored["metrics"] == result["metrics"]
    assert stored["config"]["method"] == result["method"]
    assert 0.0 <= result["metrics"]["accuracy"] <= 1.0
    assert result["metrics"]["num_test_images"] == 30
    assert "accuracy_cifair10_kept" in result["metrics"]
    assert stored["environment"]["torch"]
    assert (tmp_path / "config.json").is_file() and (tmp_path / "log.csv").is_file()
    if "seg" in method:
        assert (tmp_path / "segments.npz").is_file()


# -------------------------------------------------------------------------------------------------- resume


def test_resume_gives_the_same_final_weights(tiny_data_root: Path, tmp_path: Path,
                                             checkpoint_stop: CheckpointStop) -> None:
    config = tiny(tiny_data_root, "segmix+trivialaugment+random-erasing", epochs=3, dropout=0.3)
    full = train_classifier(config, tmp_path / "full", progress=False)

    checkpoint_stop.after(run_module)  # epoch 1's checkpoint
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "resumed", progress=False)
    checkpoint_stop.undo()
    with pytest.raises(ChimeraMixError, match="--resume"):
        train_classifier(config, tmp_path / "resumed", progress=False)
    resumed = train_classifier(config, tmp_path / "resumed", resume=True, progress=False)

    final = Path("checkpoints", "epoch-0003", "model.safetensors")
    weights = [safetensors.torch.load_file(tmp_path / run / final) for run in ("full", "resumed")]
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][key] == weights[1][key]).all() for key in weights[0])
    assert resumed["metrics"] == full["metrics"]
    assert [row["loss"] for row in resumed["log"]] == [row["loss"] for row in full["log"]]
    again = train_classifier(config, tmp_path / "resumed", resume=True, progress=False)
    assert again["metrics"] == resumed["metrics"]  # a finished run returns its stored result


# ----------------------------------------------------------------------------------------------- bad input


def test_chimeramix_needs_a_generator(tiny_data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match="needs a trained generator; pass --generator"):
        train_classifier(tiny(tiny_data_root, "chimeramix-grid"), tmp_path, progress=False)
    with pytest.raises(ChimeraMixError, match="not a finished generator run"):
        train_classifier(tiny(tiny_data_root, "chimeramix-grid", generator=str(tmp_path)), tmp_path / "run",
                         progress=False)


def test_mismatched_generators_are_refused_unless_allowed(tiny_data_root: Path,
                                                          generators: dict[str, Path]) -> None:
    grid, seg = parse_method("chimeramix-grid"), parse_method("chimeramix-seg")
    other_k = ClassifierConfig(data=data(tiny_data_root, k=3), method=grid.name,
                               generator=str(generators["grid"]))
    with pytest.raises(ChimeraMixError, match=r"k = 2 \(not 3\).*--allow-mismatch"):
        check_generating_run(resolve_classifier(other_k), grid)
    assert check_generating_run(resolve_classifier(replace(other_k, allow_mismatch=True)), grid).data.k == 2
    wrong_mask = replace(other_k, data=data(tiny_data_root), method=seg.name)
    with pytest.raises(ChimeraMixError, match=r"grid masks \(not seg\)"):
        check_generating_run(resolve_classifier(wrong_mask), seg)
    cifair = replace(other_k, data=DataConfig("cifair10", k=K, seed=0))
    check_generating_run(resolve_classifier(cifair), grid)  # ciFAIR-10 has CIFAR-10's train set


def test_unknown_method_and_reused_run_dirs(tiny_data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match=r"unknown method 'fancymix'.*baseline, cutout"):
        train_classifier(tiny(tiny_data_root, "fancymix"), tmp_path, progress=False)
    train_classifier(tiny(tiny_data_root, epochs=1), tmp_path, progress=False)
    with pytest.raises(ChimeraMixError, match=r"different config \(epochs, lr\)"):
        train_classifier(tiny(tiny_data_root, epochs=2, lr=0.1), tmp_path, resume=True, progress=False)
    with pytest.raises(ChimeraMixError, match="already holds this run"):
        train_classifier(tiny(tiny_data_root, epochs=1), tmp_path, progress=False)


# ------------------------------------------------------------------------------------- run and the CLI


@pytest.fixture
def tiny_quick_presets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # apply_preset reads the quick preset's values from the config classes
    monkeypatch.setattr(GeneratorConfig, "QUICK", {"epochs": 1, "repetition": 2, **TINY_GENERATOR})
    quick = {"epochs": 1, "repetition": 2, "checkpoint_every": 1, "architecture": "wrn-10-1", "batch_size": 8,
             "cutout_size": 4, "device": "cpu"}
    monkeypatch.setattr(ClassifierConfig, "QUICK", quick)
    yield


@pytest.mark.usefixtures("tiny_quick_presets")
def test_run_trains_the_generator_once(tiny_data_root: Path, tmp_path: Path) -> None:
    config = ClassifierConfig(data=data(tiny_data_root), method="chimeramix-grid", preset="quick")
    first = run_experiment(resolution.apply_preset(config, "quick"), tmp_path, progress=False)
    generator_dirs = sorted(path.name for path in tmp_path.glob("generator-*"))
    assert generator_dirs == ["generator-cifar10-k2-seed0-grid-quick"]
    assert Path(first["run_dir"]).name == "classifier-cifar10-k2-seed0-chimeramix-grid-quick"
    assert first["config"]["generator"] == str(tmp_path / generator_dirs[0])
    second = run_experiment(resolution.apply_preset(config, "quick"), tmp_path, progress=False)
    assert second["metrics"] == first["metrics"]


@pytest.mark.usefixtures("tiny_quick_presets")
def test_run_fast_trains_its_generator_on_the_fast_path_too(tiny_data_root: Path, tmp_path: Path) -> None:
    config = ClassifierConfig(data=data(tiny_data_root), method="chimeramix-seg", recipe="released", fast=True)
    result = run_experiment(resolution.apply_preset(config, "quick"), tmp_path, progress=False)
    generator = generator_config(result["config"]["generator"])
    assert generator.fast and generator.recipe == "released" and generator.masks.kind == "seg"
    assert Path(result["config"]["generator"]).name == "generator-cifar10-k2-seed0-seg-quick-released"


@pytest.mark.usefixtures("tiny_quick_presets")
def test_command_line(tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--dataset", "cifar10", "--k", str(K), "--data-root", str(tiny_data_root), "--preset", "quick",
              "--no-progress"]
    assert main(["classifier", "train", *common, "--method", "cutout", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "cutout on cifar10 (k = 2, seed 0, quick preset" in out and "accuracy" in out
    assert main(["run", *common, "--method", "gridmix+trivialaugment", "--out", str(tmp_path / "b")]) == 0
    assert "gridmix+trivialaugment" in capsys.readouterr().out
    bad = ["--method", "mixup+cutmix", "--out", str(tmp_path / "c")]
    assert main(["classifier", "train", *common, *bad]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "two mixing methods" in error


# ---------------------------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_real_cifar10_short_run(shared_data: Path, tmp_path: Path) -> None:
    config = ClassifierConfig(data=DataConfig("cifar10", k=10, seed=0, data_root=str(shared_data)),
                              architecture="wrn-10-1", epochs=1, repetition=10, device="cpu")
    result = train_classifier(config, tmp_path, progress=False)
    metrics = result["metrics"]
    assert result["steps"] == 10 and metrics["num_test_images"] == 10_000
    assert 9_000 < metrics["num_cifair10_kept"] < 10_000
    assert len(metrics["confusion_matrix"]) == 10
