"""The two recipes: ``paper`` (the default) and ``released`` (the authors' code, point by point).

The mask rules, the models' shapes and the classifier's stage order are pinned in ``test_masks.py``,
``test_generator_models.py`` and ``test_methods.py``; here: what each recipe resolves to, the generator's
released input pipeline, and that runs, sweeps and tables carry the recipe.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from skimage.segmentation import felzenszwalb

from chimeramix.classifier.trainer import train_classifier
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec
from chimeramix.image_ops import crop_flip
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.objective import AdversarialObjective
from chimeramix.methods.chimeramix.pairs import PairBatches, PairData, to_generator_input
from chimeramix.methods.chimeramix.segments import AugmentedSegments, SegmentationParams
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.resolution import resolve_classifier

pytestmark = pytest.mark.usefixtures("one_thread")


def test_each_recipe_resolves_every_field_it_decides() -> None:
    paper = resolve_generator(GeneratorConfig())
    released = resolve_generator(GeneratorConfig(recipe="released"))
    assert (paper.architecture, paper.discriminator, paper.weight_decay, paper.discriminator_loss,
            paper.input_crop) == ("paper", "paper", 5e-4, "mean", 0)
    assert (released.architecture, released.discriminator, released.weight_decay, released.discriminator_loss,
            released.input_crop) == ("released", "released", 0.0, "sum", 8)
    assert (paper.masks.grid_shift, paper.masks.region_choice, paper.masks.segment_source,
            paper.masks.mask_downsampling, paper.discriminator_composite) == (False, "paper", "cached", "majority",
                                                                              "reuse")
    assert (released.masks.grid_shift, released.masks.region_choice, released.masks.segment_source,
            released.masks.mask_downsampling, released.discriminator_composite) == (True, "released", "augmented",
                                                                                    "nearest", "fresh")
    stl = resolve_generator(GeneratorConfig(data=DataConfig("stl10"), recipe="released"))
    assert stl.input_crop == 12  # 12 px at 96 px
    assert (stl.repetition, resolve_generator(GeneratorConfig(data=DataConfig("stl10"))).repetition) == (30, 120)
    assert released.repetition == paper.repetition == 500
    assert resolve_generator(GeneratorConfig(recipe="released", weight_decay=1e-4)).weight_decay == 1e-4
    classifier = resolve_classifier(ClassifierConfig(recipe="released", method="segmix"))
    assert (classifier.normalization, classifier.stage_order) == ("half", "released")
    assert classifier.masks is not None and classifier.masks.region_choice == "released"
    assert resolve_classifier(ClassifierConfig(method="chimeramix-seg")).masks is None  # the generator's masks rule


def test_released_generator_inputs_are_cropped_and_flipped_each_on_their_own() -> None:
    config = resolve_generator(GeneratorConfig(recipe="released", working_size=16, input_crop=2,
                                               masks=MaskConfig(kind="seg")))
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    ids = torch.arange(8).div(2, rounding_mode="floor").expand(6, 8, 8)
    data = PairData(images, SameClassPartners(torch.tensor([0, 0, 0, 1, 1, 1])),
                    torch.stack([ids, ids.flip(-1)], dim=1).int())
    batches = PairBatches(config, data)
    positions = torch.arange(6)
    fed, weights, discriminator_weights, _ = batches(positions, torch.Generator().manual_seed(0))
    x1, x2 = fed.chunk(2)
    resized = to_generator_input(images, 16)
    windows = {(dy, dx, flip): crop_flip(resized, torch.tensor([[dy, dx]] * 6), torch.tensor([flip] * 6), 2)
               for dy in range(5) for dx in range(5) for flip in (False, True)}
    found = [[key for key, window in windows.items() if torch.equal(window[i], x1[i])] for i in range(6)]
    assert all(found)  # every x1 is a reflect-padded crop (and maybe flip) of its image at the working size
    assert len({keys[0] for keys in found}) > 1  # with offsets of its own
    assert weights.shape == (6, 2, 4, 4) and x2.shape == x1.shape
    assert discriminator_weights.shape == weights.shape and not torch.equal(discriminator_weights, weights)


def smooth_images(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 images of a few smooth blobs, which Felzenszwalb splits into several segments."""
    rng = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 3, 3, generator=rng)
    return (F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False) * 255).round().byte()


def test_released_segments_are_felzenszwalb_of_the_fed_64px_images() -> None:
    """The released recipe segments each fed image (resized to 64 px, cropped, flipped, in [-1, 1]) as the
    authors' loaders do, and brings the partner's id range to the feature size by nearest sampling; the
    segments of an image, crop and flip are computed once."""
    config = resolve_generator(GeneratorConfig(recipe="released", masks=MaskConfig(kind="seg")))
    assert (config.working_size, config.input_crop, config.feature_size) == (64, 8, 16)
    images = smooth_images(6, 32)
    segmenter = AugmentedSegments(SegmentationParams.of(config.masks))
    data = PairData(images, SameClassPartners(torch.tensor([0, 0, 0, 1, 1, 1])), segmenter)
    fed, weights, _, _ = PairBatches(config, data)(torch.arange(6), torch.Generator().manual_seed(1))
    x2 = fed.chunk(2)[1]
    assert x2.min() < -0.5 and x2.max() <= 1  # segmented in [-1, 1], as fed
    for image, mask in zip(x2, weights[:, 0]):
        ids = torch.from_numpy(felzenszwalb(image.permute(1, 2, 0).numpy(), scale=60, sigma=0.8, min_size=60))
        count = int(ids.max()) + 1
        ranges = [((ids >= low) & (ids < high)).float()[::4, ::4] for low in range(count)
                  for high in range(low + 1, count + 1)]
        assert any(torch.equal(mask, region) for region in ranges)  # an id range of x2's own segments, nearest
    assert segmenter.computed == 6 and segmenter.reused == 0
    segmenter(x2, [("same", n) for n in range(6)])
    segmenter(x2, [("same", n) for n in range(6)])
    assert segmenter.stats()["reused"] == 6 and segmenter.computed == 12


def judged_composite(recipe: str, root: Path) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor,
                                                       torch.Tensor]:
    """One generator + discriminator step of a tiny generator of ``recipe``: the batch, the composite its
    discriminator step judged, the composite of the batch's weights before the step, and that of its
    discriminator weights after it."""
    config = resolve_generator(GeneratorConfig(data=DataConfig("cifar10", k=2, data_root=str(root)), recipe=recipe,
                                               working_size=32, base_channels=4, blocks=2, mix_after=1,
                                               device="cpu", precision="fp32"))
    torch.manual_seed(0)
    objective = AdversarialObjective(MixingGenerator.from_config(config),
                                     PatchDiscriminator(architecture=config.discriminator or "paper"), config,
                                     contextlib.nullcontext)
    optimizers = {name: torch.optim.Adam(module.parameters(), lr=0.01) for name, module in
                  (("generator", objective.generator), ("discriminator", objective.discriminator))}
    data = PairData(smooth_images(12, 8, seed=2), SameClassPartners(torch.arange(12) % 2), None)
    batch = PairBatches(config, data)(torch.arange(6), torch.Generator().manual_seed(0))
    images = batch[0].unflatten(0, (2, -1))
    judged: list[torch.Tensor] = []
    judge = objective.discriminator_loss

    def spy(x: torch.Tensor, mixed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        judged.append(mixed)
        return judge(x, mixed, real)

    objective.discriminator_loss = spy  # type: ignore[method-assign]
    with torch.no_grad():
        before = objective.generator.compose_images(images, batch[1])
    AdversarialObjective.step(objective, optimizers, *batch)
    with torch.no_grad():
        after = objective.generator.compose_images(images, batch[2])
    return batch, judged[0], before, after


def test_the_released_discriminator_judges_a_fresh_composite(tiny_data_root: Path) -> None:
    """Released: the discriminator's step judges a composite under newly drawn masks, made by the generator
    after its update (the authors' second training_step call); paper: the generator step's own composite."""
    batch, judged, before, _ = judged_composite("paper", tiny_data_root)
    assert torch.equal(batch[1], batch[2])
    torch.testing.assert_close(judged, before)
    batch, judged, before, after = judged_composite("released", tiny_data_root)
    assert not torch.equal(batch[1], batch[2]) and not torch.allclose(judged, before)
    torch.testing.assert_close(judged, after)


def test_released_classifier_runs_normalise_with_one_half(tiny_data_root: Path, tmp_path: Path) -> None:
    config = ClassifierConfig(data=DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root)),
                              method="gridmix", recipe="released", architecture="wrn-10-1", epochs=1,
                              repetition=2, batch_size=8, device="cpu")
    result = train_classifier(config, tmp_path, progress=False)
    assert result["normalization"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    assert result["config"]["recipe"] == "released" and result["config"]["stage_order"] == "released"


def test_sweeps_name_and_configure_the_released_recipe() -> None:
    jobs = plan_sweep(SweepSpec(["cifar10"], ["chimeramix-grid"], [10], [0], preset="quick", recipe="released"))
    assert [job.id for job in jobs] == ["gen-cifar10-k10-s0-grid-quick-released",
                                        "cls-cifar10-k10-s0-chimeramix-grid-quick-released"]
    assert all(job.config["recipe"] == "released" for job in jobs)
    paper = plan_sweep(SweepSpec(["cifar10"], ["chimeramix-grid"], [10], [0], preset="quick"))
    assert [job.id for job in paper] == ["gen-cifar10-k10-s0-grid-quick", "cls-cifar10-k10-s0-chimeramix-grid-quick"]
