"""SuperMix: the mask optimisation (shapes, masks, update, success, Dirichlet targets, determinism), the student
(on the fly and with a pool, resume, the pool made once), its teacher as a job of its own, and the refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from chimeramix.classifier.trainer import ClassifierRun, open_classifier_run, train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.paper import paper_value
from chimeramix.experiments.pipeline import experiment_runs
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.runner import plan_tasks
from chimeramix.experiments.spec import SweepSpec
from chimeramix.experiments.store import Store
from chimeramix.experiments.table_text import render
from chimeramix.experiments.tables import RunResult, build_tables
from chimeramix.experiments.worker import RunOptions, _with_options
from chimeramix.image_ops import denormalize
from chimeramix.methods import parse_method
from chimeramix.methods.supermix import student as supermix_module
from chimeramix.methods.supermix.mask_optimisation import SuperMix
from chimeramix.methods.supermix.settings import POOL_FILE, SuperMixConfig, check_settings
from chimeramix.methods.supermix.student import weighted_targets
from chimeramix.report import write_report
from chimeramix.resolution import classifier_config, resolve_classifier
from chimeramix.train import run as run_module
from chimeramix.train.trainers import check_packable
from conftest import CheckpointStop, Interrupt
from test_report import Page

pytestmark = pytest.mark.usefixtures("one_thread")


def sections(**values: Any) -> dict[str, dict[str, Any]]:
    """The classifier config's section of SuperMix's settings."""
    return {"supermix": to_dict(SuperMixConfig(**values))}


class ChannelTeacher(nn.Module):
    """A teacher whose outputs the test controls: logits = scale * (mean red, mean green, bias) of the image."""

    def __init__(self, bias: float = 0.0, scale: float = 10.0) -> None:
        super().__init__()
        self.bias, self.scale = bias, scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        means = images.mean(dim=(2, 3))
        return self.scale * torch.cat([means[:, :2], torch.full_like(means[:, :1], self.bias)], dim=1)


def mixer(teacher: nn.Module, tolerance: float = 0.7, **changes: Any) -> SuperMix:
    """SuperMix at 8 px (w = 2) under ``teacher``; a negative ``tolerance`` runs every iteration."""
    config = check_settings(SuperMixConfig(**changes), image_size=8)
    return SuperMix(teacher, replace(config, tolerance=tolerance), mean=torch.zeros(3), std=torch.ones(3))


def red_green(count: int = 2) -> torch.Tensor:
    """Pure red and pure green 8 x 8 images, alternating."""
    images = torch.zeros(count, 3, 8, 8)
    images[0::2, 0] = 1
    images[1::2, 1] = 1
    return images


# ------------------------------------------------------------------------------------------ mask optimisation


@pytest.mark.parametrize("k", [2, 3])
def test_shapes_and_masks_sum_to_one(k: int) -> None:
    supermix = mixer(ChannelTeacher(bias=0.6), images=k, max_iterations=3, tolerance=0.0)
    images = torch.rand(5, 3, 8, 8)
    made = supermix.mix(images, supermix.sample(5, torch.Generator().manual_seed(0)))
    assert made.masks.shape == (5, k, 8, 8) and made.success.shape == (5,)
    torch.testing.assert_close(made.masks.sum(dim=1), torch.ones(5, 8, 8))
    assert made.images.shape == (int(made.success.sum()), 3, 8, 8) and made.labels.shape == (len(made.images),)
    assert supermix.groups(images).shape == (5, k, 3, 8, 8)
    torch.testing.assert_close(supermix.groups(images)[:, 1], images.roll(-1, dims=0))  # cyclic partners


def test_the_update_moves_the_masks_towards_the_target() -> None:
    """Success is out of reach (the bias class is always in the top 2), so every sample is updated; the first
    image of each mix has weight 0.8, so its mask grows and the divergence falls."""
    weights = torch.tensor([[0.8, 0.2], [0.8, 0.2]])
    start = mixer(ChannelTeacher(bias=0.6), max_iterations=0, sparsity=0.0).mix(red_green(), weights)
    moved = mixer(ChannelTeacher(bias=0.6), max_iterations=1, sparsity=0.0).mix(red_green(), weights)
    torch.testing.assert_close(start.masks, torch.full_like(start.masks, 0.5))  # zero logits: a uniform blend
    assert moved.iterations == 1 and not moved.success.any() and len(moved.images) == 0
    assert (moved.masks[:, 0].mean(dim=(1, 2)) > 0.55).all()


def test_every_mix_gets_at_least_one_update() -> None:
    """Without the bias class the uniform blend is already successful (top 2 = red and green), yet, as in
    SuperMix's ``mix_batch`` (every sample starts unsuccessful), each mix is updated once before it is judged:
    the kept mixes are never the plain 50/50 blend."""
    made = mixer(ChannelTeacher(bias=-1.0), tolerance=0.7).mix(red_green(), torch.tensor([[0.8, 0.2], [0.7, 0.3]]))
    assert made.iterations == 1 and made.success.all() and len(made.images) == 2
    assert (made.masks[:, 0].mean(dim=(1, 2)) > 0.55).all()  # moved towards the larger weight of each target
    blend = red_green().mul(0.5).add(red_green().roll(-1, dims=0).mul(0.5))
    assert (made.images - blend).abs().amax() > 0.05


def test_the_step_is_zero_for_successful_samples() -> None:
    """After their first update the mixes are successful: further iterations leave their masks as they are."""
    weights = torch.tensor([[0.8, 0.2], [0.7, 0.3]])
    once = mixer(ChannelTeacher(bias=-1.0), max_iterations=1, tolerance=-1.0).mix(red_green(), weights)
    made = mixer(ChannelTeacher(bias=-1.0), max_iterations=5, tolerance=-1.0).mix(red_green(), weights)
    assert made.success.all() and made.iterations == 5
    torch.testing.assert_close(made.masks, once.masks, rtol=0, atol=0)
    assert made.labels.tolist() == [0, 1]  # each mix's first image (red, then green) has the larger weight


def test_success_compares_sorted_top_k_classes() -> None:
    supermix = mixer(ChannelTeacher())
    targets = torch.tensor([[0.6, 0.4, 0.0], [0.3, 0.0, 0.7], [0.6, 0.4, 0.0]])
    logits = torch.tensor([[1.0, 3.0, 0.0], [5.0, 4.0, 0.0], [2.0, 0.0, 1.0]])
    assert supermix.successful(logits, targets).tolist() == [True, False, False]


def test_the_loop_stops_at_the_tolerance() -> None:
    """Every mix of the batch is successful after the first update, which is within the tolerance: one update."""
    supermix = mixer(ChannelTeacher(bias=-1.0), tolerance=0.7)
    made = supermix.mix(red_green(4), torch.full((4, 2), 0.5))
    assert made.iterations == 1 and made.success.all() and len(made.images) == 4
    nothing = mixer(ChannelTeacher(bias=-1.0), tolerance=1.0).mix(red_green(4), torch.full((4, 2), 0.5))
    assert nothing.iterations == 0 and len(nothing.images) == 0  # a tolerance of 100 %: no update, none kept


def test_dirichlet_weights_and_targets() -> None:
    supermix = mixer(ChannelTeacher(), images=3)
    weights = supermix.sample(20000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(20000))
    alpha, k = 3.0, 3
    variance = alpha * (k * alpha - alpha) / ((k * alpha) ** 2 * (k * alpha + 1))  # Dirichlet(3, 3, 3)
    assert torch.allclose(weights.mean(dim=0), torch.full((3,), 1 / 3), atol=0.01)
    assert torch.allclose(weights.var(dim=0), torch.full((3,), variance), rtol=0.1)
    targets = supermix.targets(torch.tensor([0, 2, 2]), torch.tensor([[0.5, 0.3, 0.2]] * 3), 4)
    expected = torch.tensor([[0.5, 0.0, 0.5, 0.0], [0.2, 0.0, 0.8, 0.0], [0.3, 0.0, 0.7, 0.0]])
    torch.testing.assert_close(targets, expected)


def test_the_gradient_smoothing_is_a_zero_padded_gaussian() -> None:
    supermix = mixer(ChannelTeacher())
    assert supermix.kernel.numel() == 5  # sigma = 1 cell: int(5 sigma) taps
    delta = torch.zeros(1, 1, 8, 8)
    delta[0, 0, 4, 4] = 1
    smoothed = supermix.smooth(delta)
    torch.testing.assert_close(smoothed[0, 0, 2:7, 2:7], torch.outer(supermix.kernel, supermix.kernel))
    corner = torch.zeros(1, 1, 8, 8)
    corner[0, 0, 0, 0] = 1
    assert supermix.smooth(corner).sum() < 0.6  # mass falls off the zero-padded border


def test_mixes_are_deterministic_under_a_seed() -> None:
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    images = torch.rand(6, 3, 8, 8)
    made = [mixer(teacher, max_iterations=4).mix(images, mixer(teacher).sample(6, torch.Generator().manual_seed(2)))
            for _ in range(2)]
    torch.testing.assert_close(made[0].masks, made[1].masks, rtol=0, atol=0)
    assert torch.equal(made[0].success, made[1].success)


def test_the_student_loss_is_eq_9() -> None:
    outputs = torch.randn(5, 4)
    labels, mix_labels = torch.tensor([0, 1, 2]), torch.tensor([3, 1])
    targets = weighted_targets(labels, mix_labels, 4, gamma=2.0)
    expected = 2.0 * (F.cross_entropy(outputs[:3], labels) + F.cross_entropy(outputs[3:], mix_labels))
    torch.testing.assert_close(F.cross_entropy(outputs, targets), expected)



def test_gamma_scales_only_mixed_steps() -> None:
    """SuperMix's code applies gamma to CE(real) + CE(mix) on every step, all of which carry mixes; a step
    without mixes is the baseline's CE(real), not gamma times it (a doubled learning rate)."""
    outputs, labels = torch.randn(3, 4), torch.tensor([0, 1, 2])
    targets = weighted_targets(labels, labels[:0], 4, gamma=2.0)
    assert torch.equal(targets, F.one_hot(labels, 4).float())
    torch.testing.assert_close(F.cross_entropy(outputs, targets), F.cross_entropy(outputs, labels))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ChimeraMixError, match="K >= 2"):
        check_settings(SuperMixConfig(images=1), image_size=32)
    with pytest.raises(ChimeraMixError, match="tolerance"):
        check_settings(SuperMixConfig(tolerance=1.5), image_size=32)
    assert check_settings(SuperMixConfig(), image_size=32).mask_size == 8
    with pytest.raises(ChimeraMixError, match="batch holds 1"):
        mixer(ChannelTeacher()).mix(torch.rand(1, 3, 8, 8), torch.full((1, 2), 0.5))


# ------------------------------------------------------------------------------------------------ the method


def test_method_parsing() -> None:
    assert parse_method("trivialaugment+supermix").name == "supermix+trivialaugment"
    assert parse_method("supermix+autoaugment").needs_teacher and not parse_method("baseline").needs_teacher
    for other in ("mixup", "chimeramix-grid", "glico"):
        with pytest.raises(ChimeraMixError, match="two mixing methods"):
            parse_method(f"supermix+{other}")
    with pytest.raises(ChimeraMixError, match="cosine-loss"):
        parse_method("supermix+cosine-loss")


def test_the_quick_preset_makes_a_small_pool() -> None:
    data = DataConfig("cifar10", k=10, seed=0)
    student = classifier_config(data, "supermix+trivialaugment", "quick")
    assert student.method_settings == {"supermix": {"pool_per_image": 1}}
    assert classifier_config(data, "baseline", "quick").method_settings == {}
    given = classifier_config(data, "supermix", "quick", method_settings=sections(pool_per_image=0))
    assert given.method_settings == sections(pool_per_image=0)  # an explicit setting wins


def test_the_paper_row_is_for_cifair100_only() -> None:
    cell = paper_value("cifair100", "supermix", 10)
    assert cell is not None and (cell.mean, cell.std) == (26.78, 0.2)
    assert paper_value("cifar10", "supermix", 10) is None
    runs = [RunResult(f"cls-{dataset}-k10-s{seed}-supermix", dataset, "supermix", 10, seed, "paper", 27.0 + seed, "{}")
            for dataset in ("cifair100", "cifar10") for seed in (0, 1)]
    tables = {table.dataset: table for table in build_tables(runs, compare_paper=True)}
    shown = tables["cifair100"].cells["supermix", 10]
    assert shown.paper == cell and tables["cifar10"].cells["supermix", 10].paper is None
    assert "paper 26.78 ± 0.20" in render(list(tables.values()), "markdown", compare_paper=True)


# ------------------------------------------------------------------------------------------------ the student


def data(root: Path, k: int = 2) -> DataConfig:
    return DataConfig("cifar10", k=k, seed=0, data_root=str(root))


def tiny(root: Path, method: str = "supermix", **changes: Any) -> ClassifierConfig:
    """20 images of 8 x 8 px, WRN-10-1, 2 epochs of 5 steps; SuperMix with a pool of 2 mixes per image."""
    values: dict[str, Any] = {"architecture": "wrn-10-1", "epochs": 2, "repetition": 4, "batch_size": 8,
                              "checkpoint_every": 1, "device": "cpu", "pair_mixing_p": 0.7,
                              "method_settings": sections(pool_per_image=2, max_iterations=5), **changes}
    return ClassifierConfig(data=data(root), method=method, **values)


@pytest.fixture(scope="module")
def teacher(tiny_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("teacher")
    train_classifier(tiny(tiny_data_root, "baseline", method_settings={}), run_dir, progress=False)
    return run_dir


@pytest.mark.parametrize("pool", [0, 2])
def test_the_student_resumes_exactly(tiny_data_root: Path, teacher: Path, tmp_path: Path, pool: int,
                                     checkpoint_stop: CheckpointStop) -> None:
    config = tiny(tiny_data_root, teacher=str(teacher), method_settings=sections(pool_per_image=pool,
                                                                                  max_iterations=5))
    whole = train_classifier(config, tmp_path / "whole", progress=False)
    checkpoint_stop.after(run_module)
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "split", progress=False)
    checkpoint_stop.undo()
    resumed = train_classifier(config, tmp_path / "split", resume=True, progress=False)
    assert [row["loss"] for row in resumed["log"]] == [row["loss"] for row in whole["log"]]
    for name in ("whole", "split"):
        assert (tmp_path / name / "supermix.png").is_file()
        assert (tmp_path / name / "supermix-pool.pt").is_file() == bool(pool)
    weights = [safetensors.torch.load_file(tmp_path / name / "model" / "weights.safetensors")
               for name in ("whole", "split")]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert resumed["config"]["supermix"]["pool_per_image"] == pool  # the settings are saved with the run
    if pool:
        assert resumed["pool"]["batches"] >= 1 and "mix_success" not in resumed["log"][0]
    else:  # how the mask optimisations went, per epoch
        assert all(0 <= row["mix_success"] <= 1 and 0 <= row["mix_iterations"] <= 5 for row in resumed["log"])
        assert [row["mix_success"] for row in resumed["log"]] == [row["mix_success"] for row in whole["log"]]


def test_the_report_shows_the_mixes(tiny_data_root: Path, teacher: Path, tmp_path: Path) -> None:
    config = tiny(tiny_data_root, teacher=str(teacher), epochs=1, method_settings=sections(pool_per_image=0))
    train_classifier(config, tmp_path, progress=False)
    width, height = Image.open(tmp_path / "supermix.png").size
    assert (width, height) == (2 + 8 * (16 + 2), 2 + 5 * (16 + 2))  # 8 mixes; 2 inputs, 2 masks, the mix
    page = Page(write_report(tmp_path).read_text())
    assert page.figures["supermix"] == [(width, height)]


def test_the_pool_is_made_once(tiny_data_root: Path, teacher: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny(tiny_data_root, teacher=str(teacher), epochs=1)
    run = open_classifier_run(config, tmp_path)
    assert isinstance(run, ClassifierRun) and run.batches is not None and run.batches.pool is not None
    stored = torch.load((tmp_path / POOL_FILE), weights_only=True)
    pool = stored["images"]
    assert stored["stats"] == run.batches.pool_stats and 0 < stored["stats"]["mix_success"] <= 1
    assert stored["stats"]["mixes"] == 40 and stored["stats"]["seconds"] > 0  # for the cost cache
    assert pool.dtype == torch.uint8 and pool.shape == (40, 3, 8, 8) and torch.equal(pool, run.batches.pool)
    stamp = (tmp_path / POOL_FILE).stat().st_mtime_ns

    def remade(*args: Any) -> None:
        raise AssertionError("the pool was made again")

    monkeypatch.setattr(supermix_module, "make_pool", remade)
    reopened = open_classifier_run(config, tmp_path, resume=True)
    assert isinstance(reopened, ClassifierRun) and reopened.batches is not None
    assert reopened.batches.pool is not None and torch.equal(reopened.batches.pool, pool)
    assert (tmp_path / POOL_FILE).stat().st_mtime_ns == stamp


def test_a_mixed_step_adds_labelled_mixes(tiny_data_root: Path, teacher: Path, tmp_path: Path) -> None:
    config = tiny(tiny_data_root, "supermix+autoaugment", teacher=str(teacher), pair_mixing_p=1.0,
                  method_settings=sections(pool_per_image=0, max_iterations=5))
    run = open_classifier_run(config, tmp_path)
    assert isinstance(run, ClassifierRun) and run.batches is not None
    inputs, targets = run.batch(torch.arange(8))
    real = targets[:8].sum(dim=1)
    assert inputs.shape[0] == targets.shape[0] > 8 and inputs.shape[1:] == (3, 8, 8)  # some mixes kept
    torch.testing.assert_close(real, torch.full((8,), 2.0 * len(targets) / 8))
    mixes = denormalize(inputs[8:], run.augmentation.mean, run.augmentation.std)
    assert torch.equal(targets[8:].argmax(dim=1), run.batches.mixer.predict(mixes))  # the teacher's classes
    loss = run.objective(inputs, targets)
    assert torch.isfinite(loss)


def test_a_step_without_mixes_is_the_baselines(tiny_data_root: Path, teacher: Path, tmp_path: Path) -> None:
    config = tiny(tiny_data_root, teacher=str(teacher), pair_mixing_p=0.0, method_settings=sections(pool_per_image=0))
    run = open_classifier_run(config, tmp_path)
    assert isinstance(run, ClassifierRun)
    inputs, targets = run.batch(torch.arange(8))
    assert inputs.shape[0] == 8 and torch.equal(targets.sum(dim=1), torch.ones(8))  # CE(real), not 2 CE(real)


def test_bad_teachers_are_refused(tiny_data_root: Path, teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match="needs a trained teacher; pass --teacher"):
        open_classifier_run(tiny(tiny_data_root), tmp_path / "a")
    with pytest.raises(ChimeraMixError, match="not a finished classifier run"):
        open_classifier_run(tiny(tiny_data_root, teacher=str(tmp_path / "nothing")), tmp_path / "b")
    other = replace(tiny(tiny_data_root, teacher=str(teacher)), data=data(tiny_data_root, k=3))
    with pytest.raises(ChimeraMixError, match=r"teacher .* was trained for k = 2 \(not 3\)"):
        open_classifier_run(other, tmp_path / "c")
    with pytest.raises(ChimeraMixError, match="K >= 2"):
        open_classifier_run(tiny(tiny_data_root, teacher=str(teacher), method_settings=sections(images=1)),
                            tmp_path / "d")


def test_the_command_line_says_what_is_wrong_in_one_line(tiny_data_root: Path, teacher: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    common = ["classifier", "train", "--k", "2", "--data-root", str(tiny_data_root), "--preset", "quick",
              "--architecture", "wrn-10-1", "--device", "cpu", "--no-progress", "--yes"]
    for extra, message in ((["--method", "supermix"], "needs a trained teacher; pass --teacher RUN_DIR"),
                           (["--method", "supermix", "--teacher", str(teacher), "--supermix-images", "1"], "K >= 2"),
                           (["--method", "supermix+mixup", "--teacher", str(teacher)], "two mixing methods"),
                           (["--method", "supermix", "--teacher", str(teacher), "--k", "3"], "k = 2 (not 3)")):
        assert main([*common, *extra, "--out", str(tmp_path / "run")]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and message in error, error


def test_students_never_share_a_pack(tiny_data_root: Path) -> None:
    configs = [tiny(tiny_data_root, teacher="teacher-0"), tiny(tiny_data_root, "supermix+autoaugment",
                                                               teacher="teacher-0")]
    with pytest.raises(ChimeraMixError, match="not in trains_alone"):
        check_packable(configs)
    jobs = plan_sweep(SweepSpec(datasets=["cifar10"], methods=["baseline", "supermix", "supermix+autoaugment"],
                                ks=[10], seeds=[0, 1], preset="quick"))
    tasks = plan_tasks(jobs, RunOptions(pack=5))
    assert sorted(len(task) for task in tasks) == [1, 1, 1, 1, 2]  # the baselines (teachers) as one pack


# ------------------------------------------------------------------------------------------ run and sweep


def test_run_trains_the_teacher_first(tmp_path: Path) -> None:
    config = ClassifierConfig(data=DataConfig("cifar10", k=10, seed=0), method="supermix", preset="quick",
                              epochs=3, method_settings=sections(pool_per_image=0))
    (teacher, teacher_dir), (student, student_dir) = experiment_runs(config, tmp_path)
    assert isinstance(teacher, ClassifierConfig) and isinstance(student, ClassifierConfig)
    assert (teacher.method, teacher.epochs, teacher.method_settings, teacher.teacher) == ("baseline", 3, {}, None)
    assert teacher_dir.name == "classifier-cifar10-k10-seed0-baseline-quick"
    assert student.teacher == str(teacher_dir) and student_dir.name.endswith("-supermix-quick")


@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_a_scattering_student_has_a_plain_teacher(tmp_path: Path, preset: str) -> None:
    """``scattering+supermix``: the student trains the scattering network, its teacher the preset's plain one
    (the teacher once inherited the student's scattering-wrn architecture and was refused)."""
    config = classifier_config(DataConfig("cifar10", k=10, seed=0), "scattering+supermix", preset)
    (teacher, _), (student, _) = experiment_runs(config, tmp_path)
    assert isinstance(teacher, ClassifierConfig) and isinstance(student, ClassifierConfig)
    assert student.architecture == ("scattering-wrn-2" if preset == "quick" else None)
    assert teacher.architecture == ("wrn-16-2" if preset == "quick" else None) and teacher.method_settings == {}
    assert resolve_classifier(teacher).architecture == ("wrn-16-2" if preset == "quick" else "wrn-16-8")


def test_the_sweep_trains_one_baseline_as_the_teacher(tmp_path: Path) -> None:
    for methods in (["baseline", "supermix"], ["supermix+trivialaugment", "supermix", "baseline"]):
        jobs = plan_sweep(SweepSpec(datasets=["cifar10"], methods=methods, ks=[10], seeds=[0, 1], preset="quick"))
        ids = [job.id for job in jobs]
        assert len(ids) == len(set(ids)) == 2 * len(methods)
        for job in jobs:
            if "supermix" in job.config["method"]:
                seed = job.config["data"]["seed"]
                assert job.depends_on == f"cls-cifar10-k10-s{seed}-baseline-quick"
                assert ids.index(job.depends_on) < ids.index(job.id)
    store = Store(tmp_path)
    student = next(job for job in jobs if job.config["method"] == "supermix")
    assert student.cost_key.startswith("classifier/wrn-16-2/supermix-pool/32px/")  # its own cost in estimates
    config = _with_options(student, store, RunOptions()).config
    assert config["teacher"] == str(store.run_dir(student.depends_on or "")) and config["generator"] is None
