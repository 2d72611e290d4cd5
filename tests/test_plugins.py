"""A method from another installed package: the example plug-in (``examples/chimeramix-example-method``) found
through its ``chimeramix.methods`` entry point, trained end to end by a sweep on tiny data, and shown by ``table``.

The package is "installed" as pip would lay it out (its package beside a ``.dist-info`` holding the entry points
of its ``pyproject.toml``) in a temporary folder put on ``sys.path``, so that no environment changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import safetensors.torch
import torch

from chimeramix.bundle import open_bundle
from chimeramix.classifier.trainer import ClassifierRun, open_classifier_run, train_classifier
from chimeramix.cli import main
from chimeramix.components import registry
from chimeramix.components.hooks import load_reference
from chimeramix.components.registry import load_plugins
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.budget import budget_configs, describe_plan, plan_budget, run_steps
from chimeramix.experiments.costs import CostBook
from chimeramix.methods import COMPONENTS, Component, method_names, parse_method, register_method
from chimeramix.runkinds import run_kinds
from chimeramix.train import run as run_module
from conftest import CheckpointStop, Interrupt

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "chimeramix-example-method"
PACKAGE = "chimeramix_example_method"


def install(site: Path) -> None:
    """Lay the example package out in ``site`` as an installed distribution with its entry points."""
    shutil.copytree(EXAMPLE / "src" / PACKAGE, site / PACKAGE)
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    info = site / f"{PACKAGE}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = [f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
              for group, entries in project["entry-points"].items()]
    (info / "entry_points.txt").write_text("\n".join(groups))


@pytest.fixture
def flip_blend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example plug-in installed and registered (for the sweep's spawned workers too: they inherit
    ``sys.path``); unregistered afterwards."""
    site = tmp_path / "site"
    install(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    load_plugins()
    yield "flip-blend"
    for name in ("flip-blend", "pooled", "half-swap", "smooth-ce", "latent-mix"):
        COMPONENTS.pop(name, None)
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]
    for reference in [reference for reference in registry._LOADED_HOOKS if reference.startswith(PACKAGE)]:
        del registry._LOADED_HOOKS[reference]  # the next test imports the package afresh


def test_the_plug_in_registers_as_a_policy(flip_blend: str) -> None:
    assert flip_blend in method_names()
    assert parse_method(f"cutout+{flip_blend}").name == f"{flip_blend}+cutout"
    with pytest.raises(ChimeraMixError, match="two policy methods"):
        parse_method(f"{flip_blend}+autoaugment")
    reference = COMPONENTS[flip_blend].transform
    assert reference is not None
    transform = load_reference(reference)(8)
    assert type(transform).__module__ == f"{PACKAGE}.transform"
    image = torch.rand(3, 8, 8)
    blended = [transform(image) for _ in range(20)]
    assert any(not torch.equal(out, image) for out in blended) and all(out.shape == image.shape for out in blended)


def test_register_method_refuses_what_the_core_cannot_run() -> None:
    with pytest.raises(ChimeraMixError, match="taken"):
        register_method("cutout", Component("policy", "a second cutout", transform="x:y"))
    with pytest.raises(ChimeraMixError, match="a policy, an erasing or a label mixing with a transform"):
        register_method("my-mixing", Component("pair-mixing", "no hooks"))
    with pytest.raises(ChimeraMixError, match="a policy, an erasing or a label mixing with a transform"):
        register_method("my-mixer", Component("label-mixing", "a label mixing without its transform", hooks="x:y"))
    with pytest.raises(ChimeraMixError, match="declare no pair_mixing"):
        register_method("my-mix", Component("pair-mixing", "hooks without mixing",
                                            hooks="chimeramix.methods.supermix.hooks:HOOKS"))
    with pytest.raises(ChimeraMixError, match="declare no criterion"):
        register_method("my-loss", Component("loss", "hooks without a loss",
                                             hooks="chimeramix.methods.supermix.hooks:HOOKS"))
    with pytest.raises(ChimeraMixError, match="declare no front_end"):
        register_method("my-front", Component("front-end", "no network",
                                              hooks="chimeramix.methods.supermix.hooks:HOOKS"))
    with pytest.raises(ChimeraMixError, match="only a pair mixing may have a first run"):
        register_method("my-first", Component("loss", "a loss trained first", "glico",
                                              hooks="chimeramix.methods.image_space.hooks:COSINE_LOSS_HOOKS"))
    with pytest.raises(ChimeraMixError, match="another method or the core has"):
        register_method("my-glico", Component("pair-mixing", "GLICO again", "glico",
                                              hooks="chimeramix.methods.glico.hooks:HOOKS"))
    with pytest.raises(ChimeraMixError, match="declare no run_kind named 'stage-one'"):
        register_method("my-stage", Component("pair-mixing", "a first run nobody declares", "stage-one",
                                              hooks="chimeramix.methods.chimeramix.hooks:PIXEL_HOOKS"))
    assert not {"my-mixing", "my-mixer", "my-mix", "my-loss", "my-front", "my-first", "my-glico", "my-stage"} & set(
        COMPONENTS)


def test_a_registered_label_mixing_mixes_batches_as_the_built_in_ones(tiny_data_root: Path, tmp_path: Path) -> None:
    """A label mixing registered with its transform (here CutMix's, under another name) joins other components and
    trains a classifier on soft targets, as ``cutmix`` does: the same losses from the same seed."""
    register_method("my-cutmix", Component("label-mixing", "CutMix again",
                                           transform="chimeramix.methods.image_space.label_mixing:cutmix"))
    try:
        canonical = parse_method("cutout+cutmix").name
        assert parse_method("cutout+my-cutmix").name == canonical.replace("cutmix", "my-cutmix")
        with pytest.raises(ChimeraMixError, match="two mixing methods"):
            parse_method("my-cutmix+mixup")
        results = []
        for method in ("cutmix", "my-cutmix"):
            config = ClassifierConfig(data=DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root)),
                                      method=method, architecture="wrn-10-1", epochs=1, repetition=4, batch_size=8,
                                      device="cpu")
            results.append(train_classifier(config, tmp_path / method, progress=False))
        assert [row["loss"] for row in results[0]["log"]] == [row["loss"] for row in results[1]["log"]]
    finally:
        COMPONENTS.pop("my-cutmix", None)


@pytest.mark.slow
def test_a_plug_in_method_trains_in_a_sweep_and_shows_in_the_table(
    flip_blend: str, tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", f"baseline,{flip_blend},half-swap+smooth-ce,latent-mix",
            "--k", "2", "--seeds", "0", "--first-run-set", "autoencoder.epochs=1",
            "--preset", "quick", "--store", str(store), "--data-root", str(tiny_data_root), "--device", "cpu",
            "--workers", "1", "--no-progress", "--classifier-set", "epochs=1", "--classifier-set", "repetition=1",
            "--classifier-set", "architecture=wrn-10-1"]
    assert main(argv) == 0
    assert "5 of 5 jobs finished (5 by this sweep)" in capsys.readouterr().out  # 4 classifiers, 1 autoencoder
    assert len(list((store / "runs").glob("autoencoder-cifar10-k2-s0-quick-*/autoencoder.safetensors"))) == 1
    assert main(["table", "--store", str(store)]) == 0
    table = capsys.readouterr().out
    assert "| baseline |" in table and f"| {flip_blend} |" in table and "| half-swap+smooth-ce |" in table
    assert "| latent-mix |" in table


def test_a_plug_in_front_end_trains_with_its_own_settings_and_network(
    flip_blend: str, tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example package's second method, ``pooled``: its option, its config section and its network
    ``pooled-wrn-W`` come from its hooks; the run trains, its bundle loads with the kernel it was trained with,
    and a baseline cannot take the front end's network."""
    common = ["classifier", "train", "--dataset", "cifar10", "--k", "2", "--data-root", str(tiny_data_root),
              "--preset", "quick", "--epochs", "1", "--repetition", "2", "--device", "cpu", "--no-progress", "--yes"]
    assert main([*common, "--method", "pooled+cutout", "--pooled-kernel", "4", "--out", str(tmp_path / "run")]) == 0
    assert "pooled+cutout on cifar10" in capsys.readouterr().out
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["config"]["architecture"] == "pooled-wrn-2" and result["config"]["pooled"] == {"kernel": 4}
    _, model = open_bundle(tmp_path / "run")
    assert type(model).__module__ == f"{PACKAGE}.front_end" and model.front.kernel_size == 4
    assert main([*common, "--method", "pooled", "--pooled-kernel", "3", "--out", str(tmp_path / "odd")]) == 2
    assert "pooled.kernel must divide the image side 32, got 3" in capsys.readouterr().err
    assert main([*common, "--architecture", "pooled-wrn-1", "--out", str(tmp_path / "base")]) == 2
    assert "is the network of the front end pooled" in capsys.readouterr().err


def test_a_plug_in_pair_mixing_swaps_halves_of_same_class_pairs(flip_blend: str) -> None:
    """``half-swap``'s compositions: every pixel is the batch image's or its partner's, half of them the partner's."""
    assert parse_method("cutout+half-swap").name == "half-swap+cutout"
    with pytest.raises(ChimeraMixError, match="two mixing methods"):
        parse_method("half-swap+mixup")
    with pytest.raises(ChimeraMixError, match="two loss methods"):
        parse_method("smooth-ce+cosine-loss")
    with pytest.raises(ChimeraMixError, match="combines supermix with smooth-ce"):
        parse_method("supermix+smooth-ce")
    mixing = load_reference(f"{PACKAGE}.mixing:half_swap")(None, None, None, torch.device("cpu"))
    rng = torch.Generator().manual_seed(0)
    draws = mixing.sample(64, rng)
    assert set(draws.tolist()) == {0, 1, 2, 3}
    images = torch.stack([torch.zeros(64, 3, 8, 8), torch.ones(64, 3, 8, 8)])
    composed = mixing.compose(images, draws, torch.zeros(2, 64, dtype=torch.long))
    assert composed.shape == (64, 3, 8, 8)
    assert torch.all(composed.mean(dim=(1, 2, 3)) == 0.5)  # half of every image is the partner's
    right = composed[draws == 0]
    assert torch.all(right[..., 4:] == 1) and torch.all(right[..., :4] == 0)


def test_a_plug_in_pair_mixing_and_loss_train_a_classifier(flip_blend: str, tiny_data_root: Path, tmp_path: Path,
                                                           checkpoint_stop: CheckpointStop) -> None:
    """A classifier of ``half-swap+smooth-ce`` trains with the plug-ins' mixing and loss, and resumes to the same
    weights as a run that was never stopped (the mixing's draws come from the run's own stream)."""
    config = ClassifierConfig(data=DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root)),
                              method="half-swap+smooth-ce",
                              architecture="wrn-10-1", epochs=2, repetition=4, batch_size=8, pair_mixing_p=1.0,
                              checkpoint_every=1, device="cpu")
    run = open_classifier_run(config, tmp_path / "opened")
    assert isinstance(run, ClassifierRun)
    assert type(run.augmentation.pair_mixing).__module__ == f"{PACKAGE}.mixing"
    assert isinstance(run.objective.criterion, torch.nn.CrossEntropyLoss)
    assert run.objective.criterion.label_smoothing == 0.1
    whole = train_classifier(config, tmp_path / "whole", progress=False)
    assert whole["method"] == "half-swap+smooth-ce" and len(whole["log"]) == 2
    checkpoint_stop.after(run_module)  # epoch 1's checkpoint
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "resumed", progress=False)
    checkpoint_stop.undo()
    resumed = train_classifier(config, tmp_path / "resumed", resume=True, progress=False)
    assert [row["loss"] for row in resumed["log"]] == [row["loss"] for row in whole["log"]]
    final = Path("checkpoints", "epoch-0002", "model.safetensors")
    weights = [safetensors.torch.load_file(tmp_path / run / final) for run in ("whole", "resumed")]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_a_time_budget_plans_a_plug_in_kind_that_declares_how(flip_blend: str, tiny_data_root: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``latent-mix``'s autoencoder declares how a budget plans it (``RunKind.budget``): ``--budget`` gives it its
    share of the time, as it gives ChimeraMix's generator, its config gets the planned steps, and the printed plan
    names it; a sweep override of a field the budget decides is refused, naming the kind."""
    book = CostBook("cpu", given={"autoencoder": 0.05, "classifier": 0.05})
    config = ClassifierConfig(data=DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root)),
                              method="latent-mix")
    planned = plan_budget(config, 3, book)
    assert planned.budget is not None and planned.budget.generator_steps > 0
    first, classifier = budget_configs(planned)
    assert first.KIND == "autoencoder" and classifier.budget == planned.budget
    assert abs(run_steps(first) - planned.budget.generator_steps) <= 0.1 * planned.budget.generator_steps
    assert f"autoencoder {run_steps(first):,} steps (32 channels, batch 64" in describe_plan(planned)
    assert main(["sweep", "--datasets", "cifar10", "--methods", "latent-mix", "--k", "2", "--seeds", "0",
                 "--budget", "3", "--first-run-set", "autoencoder.epochs=3", "--data-root", str(tiny_data_root),
                 "--store", str(tmp_path / "store"), "--dry-run"]) != 0
    assert "--budget decides autoencoder epochs" in capsys.readouterr().err


def test_a_plug_in_with_a_first_run_of_its_own_kind(flip_blend: str, tiny_data_root: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``latent-mix``: its kind ``autoencoder`` trains with ``generator train --kind autoencoder`` and its own
    option, draws with ``generator sample``, and a classifier composes with the finished run (the plug-in's
    mixing, checked against the classifier's split); ``run`` trains both."""
    assert "autoencoder" in run_kinds()
    data = ["--dataset", "cifar10", "--k", "2", "--data-root", str(tiny_data_root), "--device", "cpu",
            "--no-progress", "--yes"]
    first = tmp_path / "autoencoder"
    assert main(["generator", "train", "--kind", "autoencoder", *data, "--preset", "quick", "--epochs", "2",
                 "--ae-channels", "8", "--out", str(first)]) == 0
    assert "latent-mix autoencoder trained (2 epochs" in capsys.readouterr().out
    assert json.loads((first / "config.json").read_text())["config"]["channels"] == 8
    assert main(["generator", "sample", str(first), "--n", "2", "--out", str(tmp_path / "strips.png"),
                 "--device", "cpu"]) == 0
    assert (tmp_path / "strips.png").stat().st_size > 0
    config = ClassifierConfig(data=DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root)),
                              method="latent-mix", generator=str(first), architecture="wrn-10-1", epochs=1,
                              repetition=4, batch_size=8, device="cpu")
    run = open_classifier_run(config, tmp_path / "classifier")
    assert isinstance(run, ClassifierRun)
    assert type(run.augmentation.pair_mixing).__name__ == "LatentMix"
    with pytest.raises(ChimeraMixError, match="split seed 0 \\(not 1\\)"):
        open_classifier_run(replace(config, data=replace(config.data, seed=1)), tmp_path / "other")
    assert main(["run", *data, "--method", "latent-mix", "--preset", "quick", "--epochs", "1", "--repetition", "1",
                 "--architecture", "wrn-10-1", "--out", str(tmp_path / "run")]) == 0
    assert {path.name.split("-")[0] for path in (tmp_path / "run").iterdir()} == {"autoencoder", "classifier"}


@pytest.mark.parametrize("first", ["chimeramix.methods", "chimeramix.components", "chimeramix.cli"])
def test_installed_plug_ins_load_whatever_chimeramix_imports_first(tmp_path: Path, first: str) -> None:
    """In a fresh interpreter with the package installed, its methods register on the first look-up, whichever
    chimeramix package was imported first (a plug-in imports ``chimeramix.methods`` while it loads), no warning."""
    install(tmp_path)
    code = (f"import {first}\nfrom chimeramix.components.registry import components\n"
            "print(sorted(name for name in components() if name in ('flip-blend', 'pooled', 'half-swap', "
            "'smooth-ce', 'latent-mix')))")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                                             os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True,
                          env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['flip-blend', 'half-swap', 'latent-mix', 'pooled', 'smooth-ce']"
