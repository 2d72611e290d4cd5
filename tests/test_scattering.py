"""Parametric Scattering Networks: the Morlet front end (kymatio-exact at the tight frame, gradients to every
wavelet parameter, fixed and random variants, sizes), the modified WideResNet on top, the methods ``scattering``
and ``scattering-fixed`` in configs, training (parameter groups, pictures, resume, packs, the psn recipe) and
the sweep plan (tiny networks on tiny data)."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch

from chimeramix.analysis.features import classifier_extractor
from chimeramix.bundle import open_bundle
from chimeramix.classifier.trainer import open_classifier_run, train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.paper import paper_value
from chimeramix.experiments.tables import _run_result
from chimeramix.export import export_classifier
from chimeramix.methods import parse_method
from chimeramix.methods.scattering.morlet import initial_parameters, lowpass_filter, morlet_filters, periodize
from chimeramix.methods.scattering.network import ScatteringClassifier, ScatteringWideResNet
from chimeramix.methods.scattering.settings import ScatteringConfig
from chimeramix.methods.scattering.transform import Scattering, check_image_size, scattering_channels
from chimeramix.models.classifiers import build_classifier, count_parameters
from chimeramix.predictor import ProbabilityModel
from chimeramix.report import run_page
from chimeramix.resolution import apply_preset, resolve_classifier
from chimeramix.train import run as run_module
from chimeramix.train.trainers import train_pack
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")

WAVELET_PARAMETERS = ("orientation", "frequency", "scale", "slant")


def tiny(root: Path, method: str = "scattering", seed: int = 0, **overrides: Any) -> ClassifierConfig:
    """20 images of 8 x 8 px (2 x 2 scattering maps), the top model of width 1, 2 epochs of 3 steps."""
    values: dict[str, Any] = {"architecture": "scattering-wrn-1", "epochs": 2, "repetition": 2, "batch_size": 8,
                              "cutout_size": 4, "checkpoint_every": 1, "device": "cpu", **overrides}
    return ClassifierConfig(data=DataConfig("cifar10", k=2, seed=seed, data_root=str(root)), method=method,
                            **values)


def settings(**values: Any) -> dict[str, dict[str, Any]]:
    """The classifier config's section of the front end's settings."""
    return {"scattering": to_dict(ScatteringConfig(**values))}


# ----------------------------------------------------------------------------------------------- front end


@pytest.mark.parametrize(("size", "maps"), [(32, 8), (64, 16), (8, 2)])
def test_shapes(size: int, maps: int) -> None:
    assert scattering_channels(2, 8) == 243
    out = Scattering()(torch.rand(2, 3, size, size))
    assert out.shape == (2, 243, maps, maps)


def test_tight_frame_is_kymatios_filter_bank_and_transform() -> None:
    filter_bank = pytest.importorskip("kymatio.scattering2d.filter_bank").filter_bank
    frontend = pytest.importorskip("kymatio.scattering2d.frontend.torch_frontend")
    bank = filter_bank(40, 40, 2, 8)  # a 32 px input padded to 40 x 40
    ours = morlet_filters(initial_parameters(2, 8, "tight-frame"), (40, 40)).double()
    theirs = torch.tensor(np.stack([psi["levels"][0] for psi in bank["psi"]]), dtype=torch.float64)
    assert [psi["j"] for psi in bank["psi"]] == [0] * 8 + [1] * 8
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    phi = lowpass_filter(2, (40, 40), torch.device("cpu"))
    for resolution, level in enumerate(bank["phi"]["levels"]):
        torch.testing.assert_close(periodize(phi, resolution).double(), torch.tensor(level, dtype=torch.float64),
                                   rtol=0, atol=1e-6)
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = frontend.ScatteringTorch2D(J=2, shape=(32, 32))(images).reshape(3, 243, 8, 8)
    torch.testing.assert_close(Scattering()(images), reference, rtol=0, atol=1e-5)
    large = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))  # other sizes, not square
    reference = frontend.ScatteringTorch2D(J=2, shape=(64, 48))(large).reshape(1, 243, 16, 12)
    torch.testing.assert_close(Scattering()(large), reference, rtol=0, atol=1e-5)


def test_gradients_reach_the_four_parameters_of_every_wavelet() -> None:
    front = Scattering(init="random", generator=torch.Generator().manual_seed(1))
    front(torch.rand(2, 3, 16, 16)).square().mean().backward()
    for name in WAVELET_PARAMETERS:
        gradient = getattr(front, name).grad
        assert gradient is not None and gradient.shape == (16,)
        assert bool((gradient != 0).all()), name
    assert sum(parameter.numel() for parameter in front.parameters()) == 64


def test_training_rebuilds_the_wavelets_and_evaluation_caches_them_until_they_change() -> None:
    front, size, cpu = Scattering(), (24, 24), torch.device("cpu")
    assert front._filters(size, cpu)[0][0][0] is not front._filters(size, cpu)[0][0][0]  # training: rebuilt
    front.eval()
    cached = front._filters(size, cpu)
    assert front._filters(size, cpu) is cached
    with torch.no_grad():
        front.scale.mul_(1.1)  # an optimiser step, or loading weights
    rebuilt = front._filters(size, cpu)
    assert rebuilt is not cached and not torch.equal(rebuilt[0][0][0], cached[0][0][0])
    images = torch.rand(1, 3, 16, 16)
    evaluated = front(images)
    torch.testing.assert_close(front.train()(images), evaluated)


def test_fixed_wavelets_are_buffers_with_the_same_names() -> None:
    fixed, learnable = Scattering(learnable=False), Scattering()
    assert list(fixed.parameters()) == []
    assert fixed.state_dict().keys() == learnable.state_dict().keys()
    images = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(fixed(images), learnable(images))
    model = build_classifier("scattering-wrn-1", 10, component="scattering-fixed")
    assert isinstance(model, ScatteringClassifier) and model.front_end_parameters() == []


def test_random_initialisation_ranges_and_determinism() -> None:
    first = initial_parameters(2, 8, "random", torch.Generator().manual_seed(3))
    again = initial_parameters(2, 8, "random", torch.Generator().manual_seed(3))
    other = initial_parameters(2, 8, "random", torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.orientation, other.orientation)
    assert bool(((first.orientation >= 0) & (first.orientation <= 2 * math.pi)).all())
    assert bool(((first.slant >= 0.5) & (first.slant <= 1.5)).all())
    assert bool(((first.frequency >= 0.5) & (first.frequency <= 1)).all())
    assert bool(((first.scale >= 1) & (first.scale <= 5)).all())
    tight = initial_parameters(2, 8, "tight-frame")
    assert tight.scale.tolist() == pytest.approx([0.8] * 8 + [1.6] * 8)
    torch.manual_seed(5)
    seeded = Scattering(init="random").frequency.detach().clone()
    torch.manual_seed(5)
    assert torch.equal(Scattering(init="random").frequency, seeded)  # the global seed decides without a generator


@pytest.mark.parametrize(("height", "width"), [(30, 32), (32, 34), (4, 4)])
def test_image_sizes_it_cannot_take_are_one_line_errors(height: int, width: int) -> None:
    with pytest.raises(ChimeraMixError, match="multiples of 4 and at least 8 px") as error:
        check_image_size(height, width, 2)
    assert "\n" not in str(error.value)
    with pytest.raises(ChimeraMixError, match=f"not {height} x {width}"):
        Scattering()(torch.rand(1, 3, height, width))


# --------------------------------------------------------------------------------------------- top model


def top_model_parameters(width: int, classes: int, maps: int = 243) -> int:
    """The parameters of the modified WideResNet, from its layer shapes (baselines.md section 1)."""
    stem, middle, last = 16 * width, 32 * width, 64 * width
    count = 2 * maps + 9 * maps * stem + 2 * stem  # affine BN, (non-affine BN), conv, BN
    for channels_in, channels in ((stem, middle), (middle, last)):
        count += 9 * channels_in * channels + 2 * channels + 9 * channels * channels + 2 * channels  # block 1
        count += channels_in * channels + 2 * channels  # its 1x1 projection and BN
        count += 3 * (2 * 9 * channels * channels + 4 * channels)  # blocks 2-4
    return count + 4 * last * classes + classes


@pytest.mark.parametrize(("width", "classes"), [(8, 10), (2, 100), (1, 10)])
def test_top_model_parameter_count(width: int, classes: int) -> None:
    assert count_parameters(ScatteringWideResNet(width, classes)) == top_model_parameters(width, classes)
    model = build_classifier(f"scattering-wrn-{width}", classes)
    assert count_parameters(model) == top_model_parameters(width, classes) + 64
    assert top_model_parameters(8, 10) == 22_597_232


def test_top_model_is_named_like_the_others() -> None:
    with pytest.raises(ChimeraMixError, match="scattering-wrn-WIDTH"):
        build_classifier("scattering-wrn", 10)
    with pytest.raises(ChimeraMixError, match="width >= 1"):
        build_classifier("scattering-wrn-0", 10)


# --------------------------------------------------------------------------------------- methods, configs


def test_the_methods_parse_and_choose_their_network() -> None:
    method = parse_method("autoaugment+scattering")
    assert method.name == "scattering+autoaugment" and method.front_end == "scattering"
    assert parse_method("chimeramix-grid+scattering-fixed").name == "scattering-fixed+chimeramix-grid"
    with pytest.raises(ChimeraMixError, match="two front-end methods"):
        parse_method("scattering+scattering-fixed")
    with pytest.raises(ChimeraMixError, match="combines 'baseline'"):
        parse_method("baseline+scattering")
    config = ClassifierConfig(data=DataConfig("cifar10", k=10), method="scattering")
    assert resolve_classifier(config).architecture == "scattering-wrn-8"
    assert resolve_classifier(config).method_settings == {"scattering": to_dict(ScatteringConfig())}
    assert resolve_classifier(apply_preset(config, "quick")).architecture == "scattering-wrn-2"
    assert resolve_classifier(apply_preset(replace(config, method="baseline"), "quick")).architecture == "wrn-16-2"
    assert resolve_classifier(replace(config, method="baseline")).method_settings == {}
    with pytest.raises(ChimeraMixError, match="needs the architecture scattering-wrn-WIDTH"):
        resolve_classifier(replace(config, architecture="wrn-16-8"))
    with pytest.raises(ChimeraMixError, match="is the network of the front end scattering or"):
        resolve_classifier(replace(config, method="cutout", architecture="scattering-wrn-8"))
    random = settings(init="random")
    assert resolve_classifier(replace(config, method="baseline", method_settings=random)).method_settings == {}
    with pytest.raises(ChimeraMixError, match=r"settings \['scatering'\] that no method declares"):
        resolve_classifier(replace(config, method_settings={"scatering": {"init": "random"}}))


def test_the_psn_recipe() -> None:
    config = ClassifierConfig(data=DataConfig("cifar10", k=10), method="scattering",
                              method_settings=settings(recipe="psn"))
    psn = resolve_classifier(config)
    assert psn.method == "scattering+autoaugment+cutout"
    assert (psn.batch_size, psn.lr, psn.weight_decay, psn.nesterov, psn.cutout_size) == (128, 0.1, 5e-4, False, 16)
    assert psn.repetition == 150  # 3000 PSN epochs of 100 images = 200 epochs x 15 repetitions
    assert resolve_classifier(replace(config, data=DataConfig("cifar10", k=50))).repetition == 50 * 10
    with pytest.raises(ChimeraMixError, match="AutoAugment and Cutout, not trivialaugment"):
        resolve_classifier(replace(config, method="scattering+trivialaugment"))
    with pytest.raises(ChimeraMixError, match="drop --fast"):
        resolve_classifier(replace(config, fast=True))
    protocol = resolve_classifier(replace(config, method_settings={}))
    assert (protocol.batch_size, protocol.lr, protocol.nesterov) == (10, 0.0046, True)


# ---------------------------------------------------------------------------------------------- training


def wavelets_of(run_dir: Path) -> dict[str, torch.Tensor]:
    weights = safetensors.torch.load_file(run_dir / "model" / "weights.safetensors")
    return {name: weights[f"front.{name}"] for name in WAVELET_PARAMETERS}


def test_training_updates_the_wavelets_without_weight_decay(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny(tiny_data_root)
    run = open_classifier_run(config, tmp_path / "run")
    assert not isinstance(run, dict)
    groups = run.optimizers["sgd"].param_groups
    assert [group["weight_decay"] for group in groups] == [resolve_classifier(config).weight_decay, 0.0]
    assert {id(parameter) for parameter in groups[1]["params"]} == \
        {id(getattr(run.model.front, name)) for name in WAVELET_PARAMETERS}
    result = train_classifier(config, tmp_path / "run", resume=True, progress=False)
    assert result["method"] == "scattering" and result["config"]["architecture"] == "scattering-wrn-1"
    assert result["parameters"] == top_model_parameters(1, 10, 243) + 64
    initial = initial_parameters(2, 8, "tight-frame")._asdict()
    learned = wavelets_of(tmp_path / "run")
    assert all(not torch.equal(learned[name], initial[name]) for name in WAVELET_PARAMETERS)
    assert (tmp_path / "run" / "wavelets-init.png").is_file() and (tmp_path / "run" / "wavelets.png").is_file()

    fixed = train_classifier(tiny(tiny_data_root, "scattering-fixed"), tmp_path / "fixed", progress=False)
    assert fixed["parameters"] == top_model_parameters(1, 10, 243)
    kept = wavelets_of(tmp_path / "fixed")
    assert all(torch.equal(kept[name], initial[name]) for name in WAVELET_PARAMETERS)


def test_resume_gives_the_same_final_weights(tiny_data_root: Path, tmp_path: Path,
                                             checkpoint_stop: CheckpointStop) -> None:
    config = tiny(tiny_data_root, "scattering+autoaugment", epochs=3, method_settings=settings(init="random"))
    full = train_classifier(config, tmp_path / "full", progress=False)
    checkpoint_stop.after(run_module)  # epoch 1's checkpoint
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "resumed", progress=False)
    checkpoint_stop.undo()
    resumed = train_classifier(config, tmp_path / "resumed", resume=True, progress=False)
    weights = [safetensors.torch.load_file(tmp_path / run / "model" / "weights.safetensors")
               for run in ("full", "resumed")]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert resumed["metrics"] == full["metrics"]


def test_the_front_end_joins_pair_mixing(tiny_data_root: Path, tmp_path: Path) -> None:
    """gridmix + scattering: every batch is a grid mix of same-class pairs, and the learnt wavelets move while
    the network trains on them."""
    config = tiny(tiny_data_root, "gridmix+scattering", epochs=1, pair_mixing_p=1.0)
    run = open_classifier_run(config, tmp_path)
    assert not isinstance(run, dict)
    params = run.augmentation.sample(torch.arange(8), run.rng)
    assert params.partners is not None and params.draws is not None  # the coin always says "mix"
    labels = run.augmentation.labels
    assert torch.equal(labels[params.partners[0]], labels[:8])
    assert set(params.draws.unique().tolist()) == {0.0, 1.0}  # grid cells from one image or the other
    result = train_classifier(config, tmp_path, resume=True, progress=False)
    assert result["method"] == "scattering+gridmix" and result["config"]["masks"]["kind"] == "grid"
    initial, learned = initial_parameters(2, 8, "tight-frame")._asdict(), wavelets_of(tmp_path)
    assert all(not torch.equal(learned[name], initial[name]) for name in WAVELET_PARAMETERS)


def test_the_psn_recipe_trains_with_one_cycle(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny(tiny_data_root, lr=0.05, method_settings=settings(recipe="psn"))
    result = train_classifier(config, tmp_path, progress=False)
    assert result["method"] == "scattering+autoaugment+cutout"
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    expected = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=6, div_factor=25)
    for _ in range(3):  # 3 steps per epoch: the lr of epoch 1's end, per step from 0.05 / 25 up to 0.05
        optimizer.step()
        expected.step()
    assert result["log"][0]["lr"] == pytest.approx(expected.get_last_lr()[0], rel=1e-9)
    with pytest.raises(ChimeraMixError, match="train these runs alone"):
        train_pack([config, replace(config, data=replace(config.data, seed=1))],
                   [tmp_path / "a", tmp_path / "b"], progress=False)


def test_a_pack_trains_like_its_lone_runs(tiny_data_root: Path, tmp_path: Path) -> None:
    configs = [tiny(tiny_data_root, seed=seed, epochs=1, amp=False) for seed in (0, 1)]  # a CPU pack's fp32
    packed = train_pack(configs, [tmp_path / "pack-0", tmp_path / "pack-1"], progress=False)
    lone = train_classifier(configs[1], tmp_path / "lone", progress=False)
    assert packed[1]["pack_size"] == 2
    assert packed[1]["log"][-1]["loss"] == pytest.approx(lone["log"][-1]["loss"], rel=1e-4)
    learned, alone = wavelets_of(tmp_path / "pack-1"), wavelets_of(tmp_path / "lone")
    for name in WAVELET_PARAMETERS:
        torch.testing.assert_close(learned[name], alone[name], rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
def test_the_fast_path_on_cuda_trains_like_the_reference(tiny_data_root: Path, tmp_path: Path) -> None:
    """CUDA graphs around the wavelet rebuild and the FFTs (bf16 autocast on both paths), lone and packed."""
    results = {fast: train_classifier(tiny(tiny_data_root, device="cuda", fast=fast, epochs=3), tmp_path / str(fast),
                                      progress=False) for fast in (False, True)}
    losses = [[row["loss"] for row in results[fast]["log"]] for fast in (False, True)]
    assert losses[1] == pytest.approx(losses[0], rel=2e-2)
    learned = wavelets_of(tmp_path / "True")
    assert not torch.equal(learned["frequency"], initial_parameters(2, 8, "tight-frame").frequency)
    configs = [tiny(tiny_data_root, seed=seed, device="cuda", fast=True, epochs=3) for seed in (0, 1)]
    packed = train_pack(configs, [tmp_path / "pack-0", tmp_path / "pack-1"], progress=False)
    assert [row["loss"] for row in packed[0]["log"]] == pytest.approx(losses[0], rel=2e-2)


def test_command_line_run_and_sweep_plan(tiny_data_root: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--dataset", "cifar10", "--k", "2", "--data-root", str(tiny_data_root), "--no-progress",
              "--architecture", "scattering-wrn-1", "--epochs", "1", "--repetition", "2", "--batch-size", "8",
              "--device", "cpu"]
    assert main(["classifier", "train", *common, "--method", "scattering-fixed", "--scattering-init", "random",
                 "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "scattering-fixed on cifar10" in out
    assert f"scattering-wrn-1, {top_model_parameters(1, 10):,} parameters" in out
    manifest, model = open_bundle(tmp_path / "a")  # what predict and export load
    assert isinstance(model, ScatteringClassifier) and model(torch.rand(2, 3, 8, 8)).shape == (2, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recent PyTorch deprecates TorchScript, which still works
        traced = torch.jit.load(str(export_classifier(tmp_path / "a", "torchscript")))
    pixels = torch.rand(3, 3, 8, 8)
    eager = ProbabilityModel(model, manifest["preprocessing"]["mean"], manifest["preprocessing"]["std"]).eval()
    torch.testing.assert_close(traced(pixels), eager(pixels))
    with pytest.raises(ChimeraMixError, match="use --format torchscript"):
        export_classifier(tmp_path / "a", "onnx")
    assert "The scattering wavelets" in run_page(tmp_path / "a")  # chimeramix report
    features = classifier_extractor(tmp_path / "a", torch.device("cpu"))  # analyze --features
    assert features.dim == 4 * 64 and features.batch(np.zeros((2, 8, 8, 3), np.uint8)).shape == (2, 4 * 64)
    assert main(["classifier", "train", *common, "--method", "cutout", "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is the network of the front end scattering or scattering-fixed" in error
    assert main(["sweep", "--datasets", "cifar10", "--methods", "baseline,scattering", "--k", "10", "--seeds", "0-4",
                 "--preset", "quick", "--store", str(tmp_path / "plan"), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "cls-cifar10-k10-s4-scattering-quick" in plan and "cls-cifar10-k10-s0-baseline-quick" in plan
    sets = [f"--classifier-set={key}" for key in ("epochs=1", "repetition=2", "batch_size=8",
                                                   "architecture=scattering-wrn-1", "scattering.init=random")]
    store = str(tmp_path / "store")
    assert main(["sweep", "--datasets", "cifar10", "--methods", "scattering", "--k", "2", "--seeds", "0-1", "--pack",
                 "2", "--preset", "quick", "--data-root", str(tiny_data_root), "--store", store, *sets,
                 "--device", "cpu", "--no-progress", "--yes"]) == 0
    capsys.readouterr()
    assert main(["table", "--store", store, "--compare", "paper"]) == 0
    assert "scattering [random init]" in capsys.readouterr().out
    paper = paper_value("cifar10", "scattering", 10)  # `table --compare paper` puts our rows beside it
    assert paper is not None and (paper.mean, paper.std) == (37.28, 1.87)
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    assert _run_result("a", result, "accuracy", tmp_path).label == "scattering-fixed [random init]"
