"""The two recipes: ``paper`` (the default) and ``released`` (the authors' code, point by point).

The mask rules, the models' shapes and the classifier's stage order are pinned in ``test_masks.py``,
``test_generator_models.py`` and ``test_methods.py``; here: what each recipe resolves to, the generator's
released input pipeline, and that runs, sweeps and tables carry the recipe.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from chimeramix.config import ClassifierConfig, DataConfig, GeneratorConfig, MaskConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.experiments.plan import SweepSpec, plan_sweep
from chimeramix.methods.image_ops import crop_flip
from chimeramix.resolution import resolve_generator
from chimeramix.train.classifier import resolve, train_classifier
from chimeramix.train.pairs import PairBatches, PairData, to_generator_input

pytestmark = pytest.mark.usefixtures("one_thread")


def test_each_recipe_resolves_every_field_it_decides() -> None:
    paper = resolve_generator(GeneratorConfig())
    released = resolve_generator(GeneratorConfig(recipe="released"))
    assert (paper.architecture, paper.discriminator, paper.weight_decay, paper.discriminator_loss,
            paper.input_crop) == ("paper", "paper", 5e-4, "mean", 0)
    assert (released.architecture, released.discriminator, released.weight_decay, released.discriminator_loss,
            released.input_crop) == ("released", "released", 0.0, "sum", 8)
    assert (paper.masks.grid_shift, paper.masks.region_choice) == (False, "paper")
    assert (released.masks.grid_shift, released.masks.region_choice) == (True, "released")
    stl = resolve_generator(GeneratorConfig(data=DataConfig("stl10"), recipe="released"))
    assert stl.input_crop == 12  # 12 px at 96 px
    assert resolve_generator(GeneratorConfig(recipe="released", weight_decay=1e-4)).weight_decay == 1e-4
    classifier = resolve(ClassifierConfig(recipe="released", method="segmix"))
    assert (classifier.normalization, classifier.stage_order) == ("half", "released")
    assert classifier.masks is not None and classifier.masks.region_choice == "released"
    assert resolve(ClassifierConfig(method="chimeramix-seg")).masks is None  # the generator's masks rule


def test_released_generator_inputs_are_cropped_and_flipped_each_on_their_own() -> None:
    config = resolve_generator(GeneratorConfig(recipe="released", working_size=16, input_crop=2,
                                               masks=MaskConfig(kind="seg")))
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    ids = torch.arange(8).div(2, rounding_mode="floor").expand(6, 8, 8)
    data = PairData(images, SameClassPartners(torch.tensor([0, 0, 0, 1, 1, 1])),
                    torch.stack([ids, ids.flip(-1)], dim=1).int())
    batches = PairBatches(config, data)
    positions = torch.arange(6)
    fed, weights, _ = batches(positions, torch.Generator().manual_seed(0))
    x1, x2 = fed.chunk(2)
    resized = to_generator_input(images, 16)
    windows = {(dy, dx, flip): crop_flip(resized, torch.tensor([[dy, dx]] * 6), torch.tensor([flip] * 6), 2)
               for dy in range(5) for dx in range(5) for flip in (False, True)}
    found = [[key for key, window in windows.items() if torch.equal(window[i], x1[i])] for i in range(6)]
    assert all(found)  # every x1 is a reflect-padded crop (and maybe flip) of its image at the working size
    assert len({keys[0] for keys in found}) > 1  # with offsets of its own
    assert weights.shape == (6, 2, 4, 4) and x2.shape == x1.shape


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
