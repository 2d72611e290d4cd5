"""Multi-image ChimeraMix: N-image weights (sum to 1, hard one-hot, Dirichlet), the N = 2 equivalence with the
two-image masks and compositions, seeded draws, shapes up to N = 8, training, resume, packs, methods, sweeps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from chimeramix.classifier.trainer import train_classifier
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec
from chimeramix.gamma import sample_gamma
from chimeramix.methods import parse_method
from chimeramix.methods.chimeramix.frozen_generator import load_generator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import (
    MultiImageMasks,
    TwoImageMasks,
    blend,
    build_image_masks,
    build_masks,
)
from chimeramix.methods.chimeramix.pairs import PairBatches, PairData
from chimeramix.methods.chimeramix.settings import resolve_generator
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.train import run as run_module
from chimeramix.train.trainers import train_pack
from conftest import CheckpointStop
from test_generator_train import tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


def segment_maps(count: int, images: int, side: int = 16, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 6, (count, side, side), generator=generator) for _ in range(images)]


@pytest.mark.parametrize("kind", ["grid", "seg"])
@pytest.mark.parametrize("weights", ["hard", "soft"])
@pytest.mark.parametrize("images", [2, 3, 5, 8])
def test_weights_sum_to_one_and_hard_weights_are_one_hot(kind: str, weights: str, images: int) -> None:
    masks = MultiImageMasks(MaskConfig(kind=kind, images=images, weights=weights))  # type: ignore[arg-type]
    drawn = masks.sample(6, 8, torch.Generator().manual_seed(1), segment_maps(6, images))
    assert drawn.shape == (6, images, 8, 8) and drawn.min() >= 0
    torch.testing.assert_close(drawn.sum(dim=1), torch.ones(6, 8, 8))
    if weights == "hard":
        assert set(drawn.unique().tolist()) <= {0.0, 1.0}
    else:
        assert ((drawn > 0) & (drawn < 1)).any()


@pytest.mark.parametrize("kind", ["grid", "seg"])
def test_two_images_give_exactly_the_two_image_masks_and_compositions(kind: str) -> None:
    """For N = 2 the multi-image sampler draws the same masks as ChimeraMix's (same draws, same values), and
    the N-image composition equals the two-image one."""
    config = MaskConfig(kind=kind, region_choice="paper")  # type: ignore[arg-type]
    segments = segment_maps(5, 2, side=32)
    multi = MultiImageMasks(config).sample(5, 16, torch.Generator().manual_seed(3), segments)
    two = TwoImageMasks(build_masks(config)).sample(5, 16, torch.Generator().manual_seed(3), segments)
    assert torch.equal(multi, two)
    torch.manual_seed(0)
    generator = MixingGenerator(blocks=2, mix_after=1, base_channels=4).eval()
    x1, x2 = torch.rand(2, 5, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(generator.compose_images(torch.stack([x1, x2]), multi),
                           generator.compose(x1, x2, multi[:, :1]))


def test_blend_is_the_weighted_sum_of_the_images() -> None:
    stack = torch.rand(3, 2, 4, 8, 8)
    weights = torch.softmax(torch.randn(2, 3, 8, 8), dim=1)
    expected = (stack * weights.permute(1, 0, 2, 3)[:, :, None]).sum(dim=0)
    torch.testing.assert_close(blend(stack, weights), expected)


def test_draws_are_seeded() -> None:
    masks = MultiImageMasks(MaskConfig(kind="seg", images=4, min_images=2, weights="soft", partition="random"))
    segments = segment_maps(4, 4)
    first, again, other = (masks.sample(4, 8, torch.Generator().manual_seed(seed), segments) for seed in (7, 7, 8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_a_range_of_n_uses_only_the_first_n_images() -> None:
    masks = MultiImageMasks(MaskConfig(kind="grid", images=4, min_images=2, grid_cells=8))
    rng = torch.Generator().manual_seed(0)
    used = []
    for _ in range(60):
        drawn = masks.sample(8, 8, rng)
        present = drawn.flatten(2).amax(dim=2).amax(dim=0) > 0  # images with any weight in the batch
        count = int(present.sum())
        assert present[:count].all()  # the images in use are the first ones
        used.append(count)
    assert set(used) == {2, 3, 4}


def test_dirichlet_weights_have_the_dirichlet_moments() -> None:
    for alpha in (0.5, 1.0, 4.0):
        gamma = sample_gamma(alpha, (200_000,), torch.Generator().manual_seed(0))
        assert abs(gamma.mean().item() - alpha) < 0.02 * max(alpha, 1)  # Gamma(alpha, 1): mean and variance alpha
        assert abs(gamma.var().item() - alpha) < 0.05 * alpha
    masks = MultiImageMasks(MaskConfig(kind="grid", images=3, weights="soft", concentration=2.0, grid_cells=16))
    drawn = masks.sample(400, 16, torch.Generator().manual_seed(1))[..., 0, 0]  # one cell: 400 draws
    # Dirichlet(2, 2, 2): mean 1/3, variance (1/3)(2/3) / (3 * 2 + 1)
    assert abs(drawn.mean().item() - 1 / 3) < 0.01
    assert abs(drawn[:, 0].var().item() - (2 / 9) / 7) < 0.006


def test_the_partition_comes_from_the_first_or_a_random_image() -> None:
    bands = torch.arange(16).div(4, rounding_mode="floor").expand(64, 16, 16)  # image 1: four vertical bands
    rows = bands.transpose(1, 2)  # image 2: four horizontal bands
    for partition, expect_rows in (("first", False), ("random", True)):
        masks = MultiImageMasks(MaskConfig(kind="seg", images=2, weights="soft", partition=partition))
        drawn = masks.sample(64, 16, torch.Generator().manual_seed(0), [bands, rows])[:, 0]
        constant_columns = (drawn == drawn[:, :1, :]).all(dim=1).all(dim=1)  # weights follow vertical bands
        assert constant_columns.all() != expect_rows


def test_bad_multi_image_settings_are_refused() -> None:
    with pytest.raises(ChimeraMixError, match="min_images"):
        MultiImageMasks(MaskConfig(images=3, min_images=4))
    with pytest.raises(ChimeraMixError, match="concentration"):
        MultiImageMasks(MaskConfig(images=3, concentration=0))
    with pytest.raises(ChimeraMixError, match="fewer than 2"):
        parse_method("chimeramix-seg-n1")


@pytest.mark.parametrize("size", [32, 64, 96])
def test_shapes_up_to_eight_images(size: int) -> None:
    generator = MixingGenerator(blocks=2, mix_after=1, base_channels=4).eval()
    masks = build_image_masks(MaskConfig(kind="grid", images=8))
    weights = masks.sample(2, size // 4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        composed = generator.compose_images(torch.rand(8, 2, 3, size, size) * 2 - 1, weights)
    assert composed.shape == (2, 3, size, size)


def test_group_batches_hold_n_same_class_images() -> None:
    config = resolve_generator(tiny_config(Path("."), masks=MaskConfig(kind="grid", images=3)))
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    batches = PairBatches(config, PairData(images, SameClassPartners(labels), None))
    fed, weights, discriminator_weights, real_index = batches(torch.arange(6), torch.Generator().manual_seed(0))
    assert fed.shape == (3 * 6, 3, 32, 32) and weights.shape == (6, 3, 8, 8) and 0 <= int(real_index) < 3
    assert discriminator_weights is weights  # the paper recipe: D judges the generator step's composite


def test_methods_name_n_and_the_weights() -> None:
    assert parse_method("chimeramix-seg-n2").name == "chimeramix-seg"  # N = 2, hard: ChimeraMix itself
    method = parse_method("trivialaugment+chimeramix-grid-n4-soft")
    assert method.name == "chimeramix-grid-n4-soft+trivialaugment" and method.first_run == "generator"
    masks = method.generator_masks
    assert (masks.kind, masks.images, masks.weights, masks.label) == ("grid", 4, "soft", "grid-n4-soft")
    assert replace(masks, min_images=2).label == "grid-n2to4-soft"


def test_sweeps_plan_one_generator_per_n() -> None:
    jobs = plan_sweep(SweepSpec(datasets=["cifar10"], methods=["chimeramix-seg", "chimeramix-seg-n3"], ks=[10],
                               seeds=[0], preset="quick"))
    ids = sorted(job.id for job in jobs)
    assert ids == ["cls-cifar10-k10-s0-chimeramix-seg-n3-quick", "cls-cifar10-k10-s0-chimeramix-seg-quick",
                   "gen-cifar10-k10-s0-seg-n3-quick", "gen-cifar10-k10-s0-seg-quick"]
    generator = next(job for job in jobs if job.id == "gen-cifar10-k10-s0-seg-n3-quick")
    assert generator.config["masks"]["images"] == 3


def test_training_resumes_exactly_and_packs(tiny_data_root: Path, tmp_path: Path,
                                            checkpoint_stop: CheckpointStop) -> None:
    config = tiny_config(tiny_data_root, masks=MaskConfig(kind="seg", images=3, min_images=2), epochs=2)
    result = train_generator(config, tmp_path / "whole", progress=False)
    assert result["final"]["rec"] > 0 and (tmp_path / "whole" / "compositions.png").is_file()
    checkpoint_stop.after(run_module, error=KeyboardInterrupt)  # epoch 1's checkpoint, then a Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        train_generator(config, tmp_path / "resumed", progress=False)
    checkpoint_stop.undo()
    train_generator(config, tmp_path / "resumed", resume=True, progress=False)
    whole, resumed = (load_generator(tmp_path / name).state_dict() for name in ("whole", "resumed"))
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)

    configs = [replace(config, epochs=1, data=replace(config.data, seed=seed)) for seed in (0, 1)]
    results = train_pack(configs, [tmp_path / f"pack-{seed}" for seed in (0, 1)], progress=False)
    assert [result["pack_size"] for result in results] == [2, 2]
    lone = train_generator(replace(configs[1], precision="fp32"), tmp_path / "lone", progress=False)  # a CPU pack's
    # the packed run is its lone run, within what Adam's scaling of float noise allows (see test_packed.py)
    assert results[1]["final"] == pytest.approx(lone["final"], rel=2e-3)
    assert results[0]["final"] != results[1]["final"]


def test_the_classifier_composes_n_images_and_checks_its_generator(tiny_data_root: Path, tmp_path: Path) -> None:
    generator = tmp_path / "generator"
    train_generator(tiny_config(tiny_data_root, masks=MaskConfig(kind="grid", images=3), epochs=1), generator,
                    progress=False)
    data = DataConfig(dataset="cifar10", k=2, seed=0, data_root=str(tiny_data_root))
    config = ClassifierConfig(data=data, method="chimeramix-grid-n3+trivialaugment", generator=str(generator),
                              architecture="wrn-10-1", epochs=1, repetition=2, batch_size=8, pair_mixing_p=1.0,
                              device="cpu", allow_mismatch=True)  # the tiny generator works at 32 px, not 64
    result = train_classifier(config, tmp_path / "classifier", progress=False)
    assert result["config"]["method"] == "chimeramix-grid-n3+trivialaugment"
    with pytest.raises(ChimeraMixError, match="grid-n3 masks \\(not grid-n4\\)"):
        train_classifier(replace(config, method="chimeramix-grid-n4", allow_mismatch=False), tmp_path / "wrong",
                         progress=False)
