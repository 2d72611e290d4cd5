"""The protocol's facts: the dataset registry, each dataset's hyperparameters, and the two recipes.

Everything here is a fact of the paper (supplement C, ``shared/docs/protocol.md``) or of the authors' released
code; :mod:`chimeramix.config` fills a run's unset fields from it.

- :data:`DATASETS`: every built-in dataset with its class count, the train set it shares (ciFAIR uses CIFAR's)
  and its :class:`DatasetProtocol`. ``folder:PATH`` datasets get :func:`folder_protocol`.
- :data:`RECIPES`: ``paper`` (the paper's text, the default) and ``released`` (what the authors' code ran,
  point by point; the README lists the differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from chimeramix.errors import ChimeraMixError

Recipe = Literal["paper", "released"]
FOLDER_PREFIX = "folder:"


@dataclass(frozen=True)
class DatasetProtocol:
    """The paper's per-dataset hyperparameters (supplement C)."""

    image_size: int
    """Side of the (square) images the classifier sees."""
    generator_size: int
    """Side at which the generator works; 32 px datasets are upsampled to 64 (features 16 x 16)."""
    generator_batch_size: int
    generator_repetition: int
    """R in ``max(R // k, 1)`` for the generator (the paper's)."""
    released_generator_repetition: int
    """R of the generator in the authors' code (recipe ``released``): STL-10's is 30, not the paper's 120."""
    segmentation_scale: float
    """Felzenszwalb ``scale`` (also used as ``min_size``)."""
    classifier: str
    """Classifier architecture name (see ``chimeramix.models.classifiers``)."""
    classifier_batch_size: int
    classifier_lr: float
    classifier_weight_decay: float
    classifier_repetition: int
    """R in ``max(R // k, 1)`` for the classifier."""
    crop_padding: int
    cutout_size: int


CIFAR_PROTOCOL = DatasetProtocol(
    image_size=32,
    generator_size=64,
    generator_batch_size=64,
    generator_repetition=500,
    released_generator_repetition=500,
    segmentation_scale=60,
    classifier="wrn-16-8",
    classifier_batch_size=10,
    classifier_lr=0.0046,
    classifier_weight_decay=0.0053,
    classifier_repetition=500,
    crop_padding=4,
    cutout_size=16,
)

STL10_PROTOCOL = DatasetProtocol(
    image_size=96,
    generator_size=96,
    generator_batch_size=8,
    generator_repetition=120,
    released_generator_repetition=30,
    segmentation_scale=400,
    classifier="resnet50",
    classifier_batch_size=16,
    classifier_lr=0.0074,
    classifier_weight_decay=0.00041,
    classifier_repetition=120,
    crop_padding=12,
    cutout_size=24,
)


@dataclass(frozen=True)
class Dataset:
    """A built-in dataset: its class count, the dataset whose train set it uses, and its protocol."""

    num_classes: int
    train_set: str
    """ciFAIR shares CIFAR's train set, so a generator trained on one serves the other."""
    protocol: DatasetProtocol


DATASETS: dict[str, Dataset] = {
    "cifar10": Dataset(10, "cifar10", CIFAR_PROTOCOL),
    "cifair10": Dataset(10, "cifar10", CIFAR_PROTOCOL),
    "cifar100": Dataset(100, "cifar100", replace(CIFAR_PROTOCOL, cutout_size=8)),
    "cifair100": Dataset(100, "cifar100", replace(CIFAR_PROTOCOL, cutout_size=8)),
    "stl10": Dataset(10, "stl10", STL10_PROTOCOL),
}
"""The one registry of built-in datasets; its keys are the command-line names."""


def folder_protocol(image_size: int) -> DatasetProtocol:
    """Protocol for a user's ``folder:`` dataset, chosen by its (square) image size.

    Up to 64 px: the CIFAR recipe (WRN-16-8; the generator works at twice the size, capped at 64 px).
    Larger: the STL-10 recipe (ResNet-50, generator at the image size), with crop padding and cutout scaled
    to the image (1/8 and 1/4 of the side).
    """
    if image_size <= 64:
        return replace(
            CIFAR_PROTOCOL,
            image_size=image_size,
            generator_size=max(image_size, min(2 * image_size, 64)),
            crop_padding=max(1, image_size // 8),
            cutout_size=max(1, image_size // 2),
        )
    return replace(
        STL10_PROTOCOL,
        image_size=image_size,
        generator_size=image_size,
        crop_padding=max(1, image_size // 8),
        cutout_size=max(1, image_size // 4),
    )


PHOTO_SIDE = 96
"""Folders whose images have a median shorter side of at least this many pixels are photos: they get 96 px
images and the STL-10 protocol; smaller images get 32 px and the CIFAR protocol."""


def choose_folder_image_size(median_side: int) -> tuple[int, str]:
    """The image size of a ``folder:`` dataset whose images have the median shorter side ``median_side``, and
    why (one line, for the output and the config)."""
    if median_side >= PHOTO_SIDE:
        return PHOTO_SIDE, (f"photos (median shorter side {median_side} px >= {PHOTO_SIDE}): {PHOTO_SIDE} px "
                            f"images and the STL-10 protocol; --folder-image-size overrides it")
    return 32, (f"small images (median shorter side {median_side} px < {PHOTO_SIDE}): 32 px images and the "
                "CIFAR protocol; --folder-image-size overrides it")


def dataset_protocol(dataset: str, folder_image_size: int = 32) -> DatasetProtocol:
    """The protocol of a built-in dataset or of ``folder:PATH`` (by its image size)."""
    if dataset.startswith(FOLDER_PREFIX):
        return folder_protocol(folder_image_size)
    return dataset_entry(dataset).protocol


def dataset_entry(dataset: str) -> Dataset:
    """The registry entry of a built-in dataset; an unknown name is an error listing the known ones."""
    try:
        return DATASETS[dataset]
    except KeyError:
        known = ", ".join([*DATASETS, "folder:PATH"])
        raise ChimeraMixError(f"unknown dataset {dataset!r}; use one of: {known}") from None


def train_set(dataset: str) -> str:
    """The dataset whose train images ``dataset`` uses (``cifair10`` -> ``cifar10``; folders: themselves)."""
    return dataset if dataset.startswith(FOLDER_PREFIX) else dataset_entry(dataset).train_set


def repetition_factor(k: int, base: int) -> int:
    """Dataset repetitions per epoch, ``max(R // k, 1)`` (supplement C)."""
    return max(base // k, 1)


def steps_per_epoch(num_images: int, repeats: int, batch_size: int) -> int:
    """Batches in one epoch of ``num_images`` images repeated ``repeats`` times (the last may be smaller)."""
    return math.ceil(num_images * repeats / batch_size)


# -------------------------------------------------------------------------------------------------- recipes

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "generator": {"architecture": "paper", "discriminator": "paper", "weight_decay": 5e-4,
                      "discriminator_loss": "mean", "discriminator_composite": "reuse", "input_crop": 0},
        "masks": {"grid_shift": False, "region_choice": "paper", "segment_source": "cached",
                  "mask_downsampling": "majority"},
        "classifier": {"normalization": "subset", "stage_order": "paper"},
    },
    "released": {
        "generator": {"architecture": "released", "discriminator": "released", "weight_decay": 0.0,
                      "discriminator_loss": "sum", "discriminator_composite": "fresh",
                      "input_crop": "working_size // 8"},
        "masks": {"grid_shift": True, "region_choice": "released", "segment_source": "augmented",
                  "mask_downsampling": "nearest"},
        "classifier": {"normalization": "half", "stage_order": "released"},
    },
}
"""The values each recipe gives the config fields it decides (``None`` in a config: the recipe's value).

``released``, from the authors' code (``shared/docs/protocol.md``, "Released code, point by point"):
no residual block after the mix and 2x2 bias-free transposed convolutions, both networks at PyTorch's default
initialisation (the ``released`` architectures); a discriminator that zero-pads before its last convolution
(4x4 patch map at 64 px); Adam without weight decay; D loss summed, not halved, on a fresh composite under new
masks made after the generator's update; generator inputs reflect-padded and randomly cropped (8 px at 64 px,
12 at 96) and flipped, the partner on its own; STL-10's generator repetition 30 // k
(:attr:`DatasetProtocol.released_generator_repetition`); grid masks with a shifted grid; segment ranges
[l, u) of the partner's ids, segmented by Felzenszwalb on every augmented, normalised image as it is fed, and
brought to the feature size by nearest sampling; classifier inputs normalised with mean 0.5 / std 0.5; the
classifier's frozen generator (and GridMix/SegMix) applied to the batch after the policy, crop and flip, at the
generator's size with ``align_corners=True``; Random Erasing with the authors' class (uniform aspect ratio and
noise, before normalising).
"""


def recipe_values(recipe: str, part: str, working_size: int = 64) -> dict[str, Any]:
    """The values of ``part`` (``generator``, ``masks``, ``classifier``) under ``recipe``."""
    if recipe not in RECIPES:
        raise ChimeraMixError(f"unknown recipe {recipe!r}; use 'paper' or 'released'")
    values = dict(RECIPES[recipe][part])
    if values.get("input_crop") == "working_size // 8":
        values["input_crop"] = working_size // 8
    return values
