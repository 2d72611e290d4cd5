"""GLICO: the networks, the spherical interpolation, stage 1 as a trainer of the core, stage 2 as the method
``glico``, and their refusals."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from chimeramix.classifier.trainer import ClassifierRun, open_classifier_run, train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec, load_sweep_file
from chimeramix.image_ops import normalize
from chimeramix.methods.glico.distances import reconstruction_distance
from chimeramix.methods.glico.interpolation import RATIOS, load_glico
from chimeramix.methods.glico.networks import AuxiliaryClassifier, LatentGenerator, batch_normalised_slerp, slerp, unit
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.methods.glico.trainer import open_glico_run, train_glico
from chimeramix.rundir import RunFolder
from chimeramix.runtime import stream_seed
from chimeramix.train import run as run_module
from chimeramix.train.trainers import train_pack
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")


def data(root: Path, k: int = 2) -> DataConfig:
    return DataConfig("cifar10", k=k, seed=0, data_root=str(root))


def tiny(root: Path, **changes: Any) -> GlicoConfig:
    """3 steps per epoch on fabricated 16 px images (:func:`root16`), tiny codes."""
    values: dict[str, Any] = {"epochs": 2, "repetition": 2, "batch_size": 8, "checkpoint_every": 1,
                              "latent_dim": 16, "noise_dim": 4, "device": "cpu", **changes}
    return GlicoConfig(data=data(root), **values)


@pytest.fixture(scope="module")
def root16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root of 16 px images (the auxiliary classifier pools 4 times), 10 classes of 12."""
    import numpy as np

    from chimeramix.data.datasets import write_npz
    from conftest import fabricate_split

    folder = tmp_path_factory.mktemp("glico-data")
    rng = np.random.default_rng(3)
    write_npz(folder / "cifar10" / "train.npz", fabricate_split(rng, 12, size=16))
    write_npz(folder / "cifar10" / "test.npz", fabricate_split(rng, 3, size=16))
    return folder


@pytest.fixture(scope="module")
def glico_run(root16: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("glico")
    train_glico(tiny(root16), run_dir, progress=False)
    return run_dir


# ------------------------------------------------------------------------------------------------ networks


@pytest.mark.parametrize("size", [32, 96])
def test_generator_and_classifier_shapes(size: int) -> None:
    model = LatentGenerator(5, size, latent_dim=16, noise_dim=4)
    images = model(torch.tensor([0, 4, 2]), torch.randn(3, 4))
    low = 0 if size == 32 else -1  # sigmoid; STL-10: GLICO's tanh, taken as the image itself
    assert images.shape == (3, 3, size, size) and images.min() >= low and images.max() <= 1
    assert torch.allclose(model.latents.norm(dim=1), torch.ones(5))
    assert AuxiliaryClassifier(7, size)(images).shape == (3, 7)
    assert all(m.bias is None for m in model.dense if isinstance(m, torch.nn.Linear))


def layers(module: torch.nn.Module) -> list[tuple[Any, ...]]:
    """The leaf layers of ``module`` in order, as (kind, shape-deciding settings)."""
    described: list[tuple[Any, ...]] = []
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            described.append(("linear", layer.in_features, layer.out_features, layer.bias is not None))
        elif isinstance(layer, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
            described.append((type(layer).__name__, layer.in_channels, layer.out_channels, layer.kernel_size[0],
                              layer.stride[0], layer.padding[0], layer.bias is not None))
        elif isinstance(layer, torch.nn.LeakyReLU):
            described.append(("leaky", layer.negative_slope))
        elif isinstance(layer, torch.nn.BatchNorm2d):
            described.append(("bn", layer.num_features))
        elif isinstance(layer, torch.nn.ReLU | torch.nn.Tanh | torch.nn.Sigmoid):
            described.append((type(layer).__name__,))
    return described


def test_the_stl10_generator_is_glicos_layer_by_layer() -> None:
    """GLICO's DCGAN_G_small at 96 px: Linear(612 -> 1024), LeakyReLU, Linear(1024 -> 512 x 12 x 12), LeakyReLU,
    three transposed convolutions with BN and ReLU, a 3x3 convolution, tanh (its output is the image)."""
    model = LatentGenerator(5, 96)
    convs = [("ConvTranspose2d", 512, 256, 4, 2, 1, True), ("bn", 256), ("ReLU",),
             ("ConvTranspose2d", 256, 128, 4, 2, 1, True), ("bn", 128), ("ReLU",),
             ("ConvTranspose2d", 128, 64, 4, 2, 1, True), ("bn", 64), ("ReLU",),
             ("Conv2d", 64, 3, 3, 1, 1, True), ("Tanh",)]
    assert layers(model.dense) + layers(model.decode) == [
        ("linear", 612, 1024, False), ("leaky", 0.2), ("linear", 1024, 512 * 12 * 12, False), ("leaky", 0.2),
        *convs]
    assert layers(LatentGenerator(5, 32).dense) + layers(LatentGenerator(5, 32).decode) == [  # _netG at 32 px
        ("linear", 612, 1024, False), ("leaky", 0.2), ("linear", 1024, 128 * 8 * 8, False), ("leaky", 0.2),
        ("ConvTranspose2d", 128, 64, 4, 2, 1, True), ("leaky", 0.2), ("ConvTranspose2d", 64, 3, 4, 2, 1, True),
        ("Sigmoid",)]
    codes, noise = unit(torch.randn(2, 512)), torch.randn(2, 100)
    hidden = model.dense(torch.cat([codes, model.project_noise(noise)], dim=1))
    torch.testing.assert_close(model.generate(codes, noise), model.decode(hidden.view(2, 512, 12, 12)))


def test_glicos_initialisation() -> None:
    """GLICO's weights_init: Xavier-normal weights with gain sqrt 2 (std = sqrt 2 sqrt(2 / (fan_in + fan_out)))
    for G's and the auxiliary classifier's linear and convolution layers; biases keep PyTorch's defaults."""
    torch.manual_seed(0)
    for module in (LatentGenerator(50, 32), AuxiliaryClassifier(10, 32)):
        for layer in module.modules():
            if isinstance(layer, torch.nn.Linear | torch.nn.Conv2d | torch.nn.ConvTranspose2d):
                fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(layer.weight)
                expected = 2**0.5 * (2 / (fan_in + fan_out)) ** 0.5
                assert abs(float(layer.weight.detach().std()) / expected - 1) < 0.15, layer
                if layer.bias is not None:
                    assert layer.bias.abs().max() > 0  # PyTorch's default uniform bias, not zeros


def test_the_code_norm_is_detached() -> None:
    """G divides its code by the code's norm without a gradient through the norm (GLICO's ``.detach()``): the
    gradient of a code is that of the unit code over the norm, radial part included."""
    torch.manual_seed(0)
    model = LatentGenerator(3, 32, latent_dim=16, noise_dim=4)
    z = (torch.randn(1, 16) * 3).requires_grad_(True)
    noise = torch.randn(1, 4)
    model.generate(z, noise).square().sum().backward()
    unit_z = unit(z.detach()).requires_grad_(True)
    model.generate(unit_z, noise).square().sum().backward()
    assert z.grad is not None and unit_z.grad is not None
    torch.testing.assert_close(z.grad, unit_z.grad / z.detach().norm())
    assert abs(float((z.grad * z.detach()).sum())) > 1e-3 * float(z.grad.norm() * z.detach().norm())


def test_slerp_endpoints_norms_and_the_per_sample_rule() -> None:
    torch.manual_seed(0)
    z1, z2 = unit(torch.randn(6, 8)), unit(torch.randn(6, 8))
    torch.testing.assert_close(slerp(torch.tensor(0.0), z1, z2), z1)
    torch.testing.assert_close(slerp(torch.tensor(1.0), z1, z2), z2)
    middle = slerp(torch.rand(6), z1, z2)
    torch.testing.assert_close(middle.norm(dim=1), torch.ones(6))  # on the sphere, unlike a linear mix
    assert (slerp(torch.tensor(0.3), z1, z1) - z1).abs().max() < 1e-6  # parallel codes: guarded
    differs = (slerp(torch.tensor(0.3), z1, z2) - batch_normalised_slerp(0.3, z1, z2)).abs().max()
    assert differs > 1e-2  # the released code's batch-normalised variant is another interpolation


def test_distances_and_their_weights(tmp_path: Path) -> None:
    from torchvision.models import resnet18, vgg16

    x_hat, x = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    for kind in ("laplacian", "l1"):
        assert float(reconstruction_distance(kind)(x_hat, x)) > 0
        assert float(reconstruction_distance(kind)(x, x)) == 0
    torch.save(vgg16(weights=None).state_dict(), tmp_path / "vgg16.pt")
    perceptual = reconstruction_distance("perceptual", str(tmp_path / "vgg16.pt"))
    assert float(perceptual(x_hat, x)) > float(reconstruction_distance("l1")(x_hat, x))
    assert float(perceptual(x, x)) == 0
    with pytest.raises(ChimeraMixError, match="needs --perceptual-weights FILE"):
        reconstruction_distance("perceptual", str(tmp_path / "missing.pt"))
    torch.save(resnet18(weights=None).state_dict(), tmp_path / "resnet.pt")
    with pytest.raises(ChimeraMixError, match="is not a torchvision VGG-16 state dict"):
        reconstruction_distance("perceptual", str(tmp_path / "resnet.pt"))


# ---------------------------------------------------------------------------------------------- stage 1


def test_stage_one_keeps_unit_codes_and_writes_its_run(glico_run: Path) -> None:
    state = safetensors.torch.load_file(glico_run / "glico.safetensors")
    assert state["latents"].shape == (20, 16)
    torch.testing.assert_close(state["latents"].norm(dim=1), torch.ones(20))
    for name in ("reconstructions.png", "interpolations.png", "classifier.safetensors", "log.csv", "result.json"):
        assert (glico_run / name).is_file(), name


def test_stage_one_resumes_exactly(root16: Path, tmp_path: Path, glico_run: Path,
                                   checkpoint_stop: CheckpointStop) -> None:
    checkpoint_stop.after(run_module)
    with pytest.raises(Interrupt):
        train_glico(tiny(root16), tmp_path, progress=False)
    checkpoint_stop.undo()
    train_glico(tiny(root16), tmp_path, resume=True, progress=False)
    whole = safetensors.torch.load_file(glico_run / "glico.safetensors")
    resumed = safetensors.torch.load_file(tmp_path / "glico.safetensors")
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)


def test_the_noise_has_a_stream_of_its_own(root16: Path, tmp_path: Path) -> None:
    """The noise codes of a batch come from the run's own stream (``stream_seed(seed, 1)``, checkpointed),
    scaled by ``noise_std``: not from the global RNG that initialised the weights, nor from the plain seed."""
    run = open_glico_run(tiny(root16, noise_std=0.3), tmp_path)
    assert not isinstance(run, dict)
    torch.manual_seed(123)  # the global RNG does not reach the codes
    _, codes, images, _ = run.batch(torch.arange(4))
    expected = torch.randn(4, 4, generator=torch.Generator().manual_seed(stream_seed(0, 1))) * 0.3
    torch.testing.assert_close(codes, expected, rtol=0, atol=0)
    plain = torch.randn(4, 4, generator=torch.Generator().manual_seed(0)) * 0.3
    assert not torch.allclose(codes, plain)
    assert images.shape == (4, 3, 16, 16) and images.min() >= 0 and images.max() <= 1  # unaugmented, in [0, 1]


def test_the_classifiers_sgd_holds_the_codes(root16: Path, tmp_path: Path) -> None:
    """As GLICO's code, the auxiliary classifier's SGD holds the codes too (lr 1e-3): with the codes' own Adam
    at lr 0, a step still moves them, by SGD's -lr (g + wd z), then back onto the sphere."""
    run = open_glico_run(tiny(root16), tmp_path)
    assert not isinstance(run, dict)
    sgd = run.optimizers["classifier"]
    assert [group["lr"] for group in sgd.param_groups] == [0.1, 1e-3]
    assert sgd.param_groups[1]["params"] == [run.model.latents]
    run.optimizers["latents"].param_groups[0]["lr"] = 0.0
    before = run.model.latents.detach().clone()
    batch = run.batch(torch.arange(8))
    run.objective.step(run.objective, run.optimizers, *batch)
    gradient = run.model.latents.grad
    assert gradient is not None
    expected = unit(before - 1e-3 * (gradient + 1e-4 * before))
    torch.testing.assert_close(run.model.latents.detach(), expected)
    assert (run.model.latents.detach() - before).abs().max() > 0


@pytest.mark.slow
def test_reconstructions_improve_on_real_cifar10(shared_data: Path, tmp_path: Path) -> None:
    config = GlicoConfig(data=DataConfig("cifar10", k=10, seed=0, data_root=str(shared_data)), epochs=4,
                         repetition=60, batch_size=32, lr_decay_every=1.0, device="cpu", preset="quick")
    result = train_glico(config, tmp_path, progress=False)
    assert result["final"]["rec"] < 0.9 * result["first_epoch"]["rec"]


# ---------------------------------------------------------------------------------------------- stage 2


def test_the_glico_method_trains_on_interpolations_of_same_class_codes(root16: Path, glico_run: Path,
                                                                      tmp_path: Path) -> None:
    """A replaced batch is G(slerp(t, z_i, z_j), code) for same-class partners j, one t of GLICO's per batch,
    exactly what the classifier sees: only normalised (no policy, crop or flip, as GLICO's code), labelled y_i;
    then the classifier trains on such batches."""
    config = ClassifierConfig(data=data(root16), method="trivialaugment+glico", generator=str(glico_run),
                              architecture="wrn-10-1", epochs=1, repetition=2, batch_size=8, pair_mixing_p=1.0,
                              device="cpu", precision="fp32")  # the generator in fp32 here and below
    run = open_classifier_run(config, tmp_path)
    assert isinstance(run, ClassifierRun)
    positions = torch.arange(8)
    state = run.rng.get_state()
    params = run.augmentation.sample(positions, run.rng)
    run.rng.set_state(state)
    inputs, targets = run.batch(positions)
    assert params.partners is not None and params.draws is not None
    labels = run.augmentation.labels
    assert torch.equal(labels[params.partners[0]], labels[positions]) and torch.equal(targets, labels[positions])
    ratio = params.draws[0, 0]
    assert round(float(ratio), 6) in RATIOS and torch.all(params.draws[:, 0] == ratio)  # one t per batch
    model, _ = load_glico(glico_run, torch.device("cpu"))
    z = slerp(ratio, model.latents[positions], model.latents[params.partners[0]])
    expected = normalize(model.generate(z, params.draws[:, 1:]).clamp(0, 1), run.mean, run.std)
    torch.testing.assert_close(inputs, expected)
    result = train_classifier(config, tmp_path / "trained", progress=False)
    assert result["method"] == "glico+trivialaugment" and math.isfinite(result["log"][-1]["loss"])


def test_generators_of_the_wrong_kind_are_refused(root16: Path, glico_run: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--k", "2", "--data-root", str(root16), "--preset", "quick", "--architecture", "wrn-10-1",
              "--device", "cpu", "--no-progress"]
    assert main(["classifier", "train", *common, "--method", "chimeramix-grid", "--generator", str(glico_run),
                 "--out", str(tmp_path / "a")]) == 2
    assert "holds a glico run, not a generator run" in capsys.readouterr().err
    mixing = tmp_path / "mixing"
    assert main(["generator", "train", "--k", "2", "--data-root", str(root16), "--preset", "quick", "--epochs", "1",
                 "--repetition", "2", "--base-channels", "4", "--blocks", "2", "--mix-after", "1", "--working-size",
                 "32", "--device", "cpu", "--no-progress", "--out", str(mixing)]) == 0
    capsys.readouterr()
    assert main(["classifier", "train", *common, "--method", "glico", "--generator", str(mixing),
                 "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds a generator run, not a glico run" in error
    other_k = replace(ClassifierConfig(data=data(root16, k=3), method="glico", generator=str(glico_run)))
    with pytest.raises(ChimeraMixError, match=r"k = 2 \(not 3\)"):
        train_classifier(other_k, tmp_path / "c", progress=False)


def test_sweeps_plan_a_glico_job_for_the_method() -> None:
    jobs = plan_sweep(SweepSpec(["cifar10"], ["glico", "glico+autoaugment", "baseline"], [10], [0, 1], preset="quick"))
    stage_one = [job for job in jobs if job.kind == "glico"]
    assert [job.id for job in stage_one] == ["glico-cifar10-k10-s0-quick", "glico-cifar10-k10-s1-quick"]
    dependent = [job for job in jobs if job.kind == "classifier" and job.config["method"].startswith("glico")]
    assert {job.depends_on for job in dependent} == {job.id for job in stage_one}
    assert stage_one[0].cost_key.startswith("glico/32px-b32/") and stage_one[0].steps == 8 * 19


def test_a_sweep_file_overrides_the_stage_one_config_under_its_kinds_name(tmp_path: Path) -> None:
    """The key ``glico:`` (the kind's name, declared by GLICO's hooks) sets the stage-1 config; its hash joins the
    stage-1 job's id and its classifiers' ids as it always did (the hash of ``{"glico": {...}}``), so a store
    planned before keeps its jobs."""
    path = tmp_path / "sweep.yaml"
    path.write_text("datasets: cifar10\nmethods: glico,baseline\nk: 10\nseeds: 0\npreset: quick\n"
                    "glico: {epochs: 3, gamma: 0.25}\n")
    spec = load_sweep_file(path)
    assert spec.first_runs == {"glico": {"epochs": 3, "gamma": 0.25}}
    jobs = {job.kind + ":" + job.config.get("method", ""): job for job in plan_sweep(spec)}
    stage_one, student, baseline = jobs["glico:"], jobs["classifier:glico"], jobs["classifier:baseline"]
    overrides = {"epochs": 3, "gamma": 0.25}
    assert stage_one.id == f"glico-cifar10-k10-s0-quick-{short_hash(overrides)}"
    assert (stage_one.config["epochs"], stage_one.config["gamma"]) == (3, 0.25) and stage_one.steps == 3 * 19
    assert student.id == f"cls-cifar10-k10-s0-glico-quick-{short_hash({'glico': overrides})}"
    assert student.depends_on == stage_one.id and baseline.id == "cls-cifar10-k10-s0-baseline-quick"
    path.write_text("datasets: cifar10\nmethods: glico\nk: 10\nseeds: 0\nglico: {epoch: 3}\n")
    with pytest.raises(ChimeraMixError, match=r"unknown GlicoConfig override keys \['epoch'\]"):
        load_sweep_file(path)


def test_the_command_line_sets_the_stage_one_config_as_the_sweep_file_does(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``--first-run-set glico.KEY=VALUE`` gives the jobs of the sweep file's ``glico:`` key; an unknown kind or
    field is one line that names the known ones."""
    argv = ["sweep", "--datasets", "cifar10", "--methods", "glico", "--k", "10", "--seeds", "0", "--preset", "quick",
            "--store", str(tmp_path / "store"), "--dry-run"]
    assert main([*argv, "--first-run-set", "glico.epochs=3", "--first-run-set", "glico.gamma=0.25"]) == 0
    out = capsys.readouterr().out
    overrides = {"epochs": 3, "gamma": 0.25}
    assert f"glico-cifar10-k10-s0-quick-{short_hash(overrides)}: {3 * 19} steps" in out
    assert f"cls-cifar10-k10-s0-glico-quick-{short_hash({'glico': overrides})}" in out
    assert main([*argv, "--first-run-set", "teacher.epochs=3"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "KIND one of generator, glico" in error
    assert main([*argv, "--first-run-set", "glico.epoch=3"]) == 2
    assert "unknown GlicoConfig override keys ['epoch']" in capsys.readouterr().err


def short_hash(value: Any) -> str:
    """The six hex digits of a sweep's override hash (``experiments.plan``), written out here."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]


def test_the_command_line_trains_and_samples_glico(root16: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "glico"
    argv = ["generator", "train", "--kind", "glico", "--k", "2", "--data-root", str(root16), "--preset", "quick",
            "--epochs", "1", "--repetition", "2", "--batch-size", "8", "--distance", "l1", "--device", "cpu",
            "--no-progress", "--out", str(run_dir)]
    assert main(argv) == 0
    assert "GLICO stage 1 trained" in capsys.readouterr().out
    assert RunFolder(run_dir).read_config(GlicoConfig).distance == "l1"
    picture = tmp_path / "strips.png"
    assert main(["generator", "sample", str(run_dir), "--n", "3", "--out", str(picture), "--device", "cpu"]) == 0
    assert "interpolation strips" in capsys.readouterr().out and picture.is_file()
    assert main([*argv[:-2], "--distance", "perceptual", "--out", str(tmp_path / "p")]) == 2
    assert "needs --perceptual-weights FILE" in capsys.readouterr().err


def test_stage_one_trains_as_a_pack(root16: Path, tmp_path: Path) -> None:
    """Two splits as one vmapped model: the first agrees with its lone run to float tolerance (both in fp32: a
    CPU pack computes in fp32, see runtime.choose_precision)."""
    configs = [tiny(root16), replace(tiny(root16), data=replace(data(root16), seed=1))]
    results = train_pack(configs, [tmp_path / "a", tmp_path / "b"], progress=False)
    assert [result["pack_size"] for result in results] == [2, 2]
    assert {result["config"]["precision"] for result in results} == {"fp32"}
    lone = train_pack([replace(tiny(root16), precision="fp32")], [tmp_path / "lone"], progress=False)[0]
    assert results[0]["final"] == pytest.approx(lone["final"], rel=1e-3)
    assert results[0]["final"] != results[1]["final"]
