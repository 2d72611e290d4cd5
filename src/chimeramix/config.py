"""Typed configuration: every default of the protocol lives in this module.

A run is described by one dataclass (:class:`GeneratorConfig` or :class:`ClassifierConfig`). Fields left at
``None`` mean "the protocol's value for this dataset"; :func:`resolve_generator` / :func:`resolve_classifier`
fill them from :data:`PROTOCOLS` so that the config saved with a run is complete and explicit.

Presets: ``paper`` is the full protocol (200 epochs, repetition ``max(R // k, 1)``); ``quick`` is a CPU-sized
version of the same recipe (few epochs, small repetition) for demos and tests.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

from chimeramix.errors import ChimeraMixError

Preset = Literal["paper", "quick"]
MaskKind = Literal["grid", "segmentation"]
RegionChoice = Literal["paper", "released"]
GeneratorArchitecture = Literal["paper", "released"]


@dataclass(frozen=True)
class DatasetProtocol:
    """The paper's per-dataset hyperparameters (supplement C, ``shared/docs/protocol.md``)."""

    image_size: int
    """Side of the (square) images the classifier sees."""
    generator_size: int
    """Side at which the generator works; 32 px datasets are upsampled to 64 (features 16 x 16)."""
    generator_batch_size: int
    generator_repetition: int
    """R in ``max(R // k, 1)`` for the generator."""
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


CIFAR10_PROTOCOL = DatasetProtocol(
    image_size=32,
    generator_size=64,
    generator_batch_size=64,
    generator_repetition=500,
    segmentation_scale=60,
    classifier="wrn-16-8",
    classifier_batch_size=10,
    classifier_lr=0.0046,
    classifier_weight_decay=0.0053,
    classifier_repetition=500,
    crop_padding=4,
    cutout_size=16,
)

PROTOCOLS: dict[str, DatasetProtocol] = {
    "cifar10": CIFAR10_PROTOCOL,
    "cifair10": CIFAR10_PROTOCOL,
    "cifar100": replace(CIFAR10_PROTOCOL, cutout_size=8),
    "cifair100": replace(CIFAR10_PROTOCOL, cutout_size=8),
    "stl10": DatasetProtocol(
        image_size=96,
        generator_size=96,
        generator_batch_size=8,
        generator_repetition=120,  # the paper's value; the released code uses 30
        segmentation_scale=400,
        classifier="resnet50",
        classifier_batch_size=16,
        classifier_lr=0.0074,
        classifier_weight_decay=0.00041,
        classifier_repetition=120,
        crop_padding=12,
        cutout_size=24,
    ),
}


def folder_protocol(image_size: int) -> DatasetProtocol:
    """Protocol for a user's ``folder:`` dataset, chosen by its (square) image size.

    Up to 64 px: the CIFAR recipe (WRN-16-8; the generator works at twice the size, capped at 64 px).
    Larger: the STL-10 recipe (ResNet-50, generator at the image size), with crop padding and cutout scaled
    to the image (1/8 and 1/4 of the side).
    """
    if image_size <= 64:
        return replace(
            CIFAR10_PROTOCOL,
            image_size=image_size,
            generator_size=max(image_size, min(2 * image_size, 64)),
            crop_padding=max(1, image_size // 8),
            cutout_size=max(1, image_size // 2),
        )
    return replace(
        PROTOCOLS["stl10"],
        image_size=image_size,
        generator_size=image_size,
        crop_padding=max(1, image_size // 8),
        cutout_size=max(1, image_size // 4),
    )


# ----------------------------------------------------------------------------------------------- run configs


@dataclass
class DataConfig:
    """Which images a run trains on: dataset, images per class k, split seed."""

    dataset: str = "cifar10"
    k: int = 10
    seed: int = 0
    data_root: str | None = None
    """Data root; ``None``: ``$CHIMERAMIX_DATA``, else the per-user cache (see ``chimeramix.data``)."""
    folder_image_size: int = 32
    """Side to which ``folder:`` images are resized."""


@dataclass
class GeneratorConfig:
    """A ChimeraMix generator run (paper section 3.1, supplement C.1)."""

    data: DataConfig = field(default_factory=DataConfig)
    mask: MaskKind = "grid"
    architecture: GeneratorArchitecture = "paper"
    """``paper``: residual blocks after the mix run; ``released``: none do (the authors' code)."""
    blocks: int = 4
    mix_after: int = 2
    base_channels: int = 64
    working_size: int | None = None
    # grid masks
    grid_cells: int = 4
    grid_p: float = 0.5
    grid_shift: bool = False
    # segmentation masks
    segmentation_scale: float | None = None
    segmentation_min_size: int | None = None
    segmentation_sigma: float = 0.8
    region_choice: RegionChoice = "paper"
    # optimisation
    epochs: int = 200
    batch_size: int | None = None
    repetition: int | None = None
    """R in ``max(R // k, 1)``."""
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 5e-4
    lr_milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    """Fractions of training at which the lr is multiplied by ``lr_gamma`` (epochs 60/120/160 of 200)."""
    lr_gamma: float = 0.2
    w_rec: float = 1000.0
    w_lap: float = 1.0
    w_adv: float = 1.0
    # bookkeeping
    checkpoint_every: int = 10
    """Epochs between checkpoints (and pictures); the last epoch always writes one."""
    device: str = "auto"
    amp: bool = True
    """bf16 autocast on CUDA; ignored on CPU."""
    tensorboard: bool = False
    fast: bool = False
    """Use the fast GPU path (``chimeramix.train.fast``); the reference path otherwise."""
    preset: str = "paper"


@dataclass
class ClassifierConfig:
    """A classifier run with one augmentation method (paper section 3.1, 4, supplement C.2)."""

    data: DataConfig = field(default_factory=DataConfig)
    method: str = "baseline"
    generator: str | None = None
    """Run directory of a finished generator (``chimeramix-*`` methods)."""
    allow_mismatch: bool = False
    architecture: str | None = None
    dropout: float = 0.3
    epochs: int = 200
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    nesterov: bool = True
    repetition: int | None = None
    crop_padding: int | None = None
    cutout_size: int | None = None
    chimeramix_p: float = 0.5
    """Probability that a batch is replaced by generated compositions."""
    cosine_with_ce: bool = False
    """``cosine-loss``: add the cross-entropy term of Barz & Denzler's combined loss."""
    eval_every: int = 0
    """Epochs between test evaluations for curves only (0: only after the last epoch)."""
    checkpoint_every: int = 10
    device: str = "auto"
    amp: bool = True
    fast: bool = False
    """Use the fast GPU path (``chimeramix.train.fast``); the reference path otherwise."""
    preset: str = "paper"


QUICK_GENERATOR = {"epochs": 8, "repetition": 30, "checkpoint_every": 4, "base_channels": 16, "batch_size": 16,
                   "lr": 1e-3}
"""About 150 steps of a 4x narrower generator, at a 5x higher lr to make up for them (~2.5 min on 1 CPU core)."""
QUICK_CLASSIFIER = {"epochs": 10, "repetition": 50, "checkpoint_every": 5, "architecture": "wrn-16-2"}
"""WRN-16-2: on a CPU, WRN-16-8 takes minutes just to evaluate the 10,000 test images."""


def protocol_for(data: DataConfig) -> DatasetProtocol:
    """The protocol of ``data.dataset`` (built-in name or ``folder:PATH``)."""
    if data.dataset.startswith("folder:"):
        return folder_protocol(data.folder_image_size)
    try:
        return PROTOCOLS[data.dataset]
    except KeyError:
        known = ", ".join([*PROTOCOLS, "folder:PATH"])
        raise ChimeraMixError(f"unknown dataset {data.dataset!r}; use one of: {known}") from None


def repetition_factor(k: int, base: int) -> int:
    """Dataset repetitions per epoch, ``max(R // k, 1)`` (supplement C)."""
    return max(base // k, 1)


def steps_per_epoch(num_images: int, repeats: int, batch_size: int) -> int:
    """Batches in one epoch of ``num_images`` images repeated ``repeats`` times (the last may be smaller)."""
    return math.ceil(num_images * repeats / batch_size)


def resolve_generator(config: GeneratorConfig) -> GeneratorConfig:
    """Fill every ``None`` field from the dataset's protocol; returns a new config."""
    protocol = protocol_for(config.data)
    scale = config.segmentation_scale if config.segmentation_scale is not None else protocol.segmentation_scale
    return replace(
        config,
        working_size=config.working_size or protocol.generator_size,
        segmentation_scale=scale,
        segmentation_min_size=config.segmentation_min_size or int(scale),
        batch_size=config.batch_size or protocol.generator_batch_size,
        repetition=config.repetition or protocol.generator_repetition,
    )


def resolve_classifier(config: ClassifierConfig) -> ClassifierConfig:
    """Fill every ``None`` field from the dataset's protocol; returns a new config."""
    protocol = protocol_for(config.data)
    return replace(
        config,
        architecture=config.architecture or protocol.classifier,
        batch_size=config.batch_size or protocol.classifier_batch_size,
        lr=config.lr if config.lr is not None else protocol.classifier_lr,
        weight_decay=config.weight_decay if config.weight_decay is not None else protocol.classifier_weight_decay,
        repetition=config.repetition or protocol.classifier_repetition,
        crop_padding=config.crop_padding if config.crop_padding is not None else protocol.crop_padding,
        cutout_size=config.cutout_size or protocol.cutout_size,
    )


RunConfig = TypeVar("RunConfig", GeneratorConfig, ClassifierConfig)


def apply_preset(config: RunConfig, preset: str) -> RunConfig:
    """Return ``config`` with the named preset's values (``paper`` changes nothing, ``quick`` shrinks it)."""
    if preset == "paper":
        return replace(config, preset="paper")
    if preset == "quick":
        values = QUICK_GENERATOR if isinstance(config, GeneratorConfig) else QUICK_CLASSIFIER
        return replace(config, preset="quick", **values)  # type: ignore[arg-type]
    raise ChimeraMixError(f"unknown preset {preset!r}; use 'paper' or 'quick'")


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (nested configs become dicts; tuples stay tuples until JSON
    writes them as lists, which :func:`from_dict` turns back into tuples)."""
    return dataclasses.asdict(config)


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys (``data.k``) whose values differ between two nested dicts, sorted."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(prefix + key)
    return keys


def from_dict(cls: type[RunConfig], values: dict[str, Any]) -> RunConfig:
    """Rebuild a config written by :func:`to_dict`; unknown keys are an error naming them."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ChimeraMixError(
            f"config has unknown keys {unknown} for {cls.__name__}; it was written by another chimeramix "
            "version: rerun the job with this version"
        )
    kwargs = dict(values)
    kwargs["data"] = DataConfig(**values.get("data", {}))
    for f in fields(cls):
        if f.name in kwargs and isinstance(kwargs[f.name], list):
            kwargs[f.name] = tuple(kwargs[f.name])
    return cls(**kwargs)


def parse_int_list(text: str) -> list[int]:
    """``"5,10,20"`` -> [5, 10, 20]; ``"0-4"`` -> [0, 1, 2, 3, 4]; mixtures like ``"0-2,7"`` too."""
    values: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
        if match is None:
            raise ChimeraMixError(f"cannot read {text!r} as a list of integers; write e.g. 5,10,20 or 0-4")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        values.extend(range(low, high + 1))
    return values
