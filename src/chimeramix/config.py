"""Typed configuration of every run; the defaults live here and in :mod:`chimeramix.protocol`.

A run is described by one dataclass (:class:`GeneratorConfig` or :class:`ClassifierConfig`, with a nested
:class:`DataConfig` and :class:`MaskConfig`). Fields left at ``None`` mean "the protocol's or the recipe's
value"; :func:`resolve_generator` / :func:`resolve_classifier` fill them, so that the config saved with a run
is complete and explicit.

Every field may declare *roles* (:data:`MACHINE`, :data:`SPLIT`, :data:`PACKABLE`, :data:`SWEEP`); the lists
that other modules need (what may differ on resume, inside a pack, between the runs of one table cell, what a
sweep sets itself) are derived from them by :func:`fields_with_role`, never written out twice.

Presets: ``paper`` is the full protocol; ``quick`` is a CPU-sized version of the same recipe for demos and
tests. Recipes: ``paper`` (the default) and ``released`` (the authors' code, see :data:`~chimeramix.protocol.RECIPES`).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

from chimeramix.errors import ChimeraMixError
from chimeramix.protocol import DatasetProtocol, Recipe, dataset_protocol, recipe_values

Preset = Literal["paper", "quick"]
MaskKind = Literal["grid", "seg"]
"""Grid masks, or masks made of segmentation regions: one spelling everywhere (methods, job ids, run names)."""
RegionChoice = Literal["paper", "released"]
Architecture = Literal["paper", "released"]

# ---------------------------------------------------------------------------------------------- field roles

MACHINE = "machine"
"""Does not change what the run computes (where, how fast, how often it saves): may differ on resume, is left
out of a table cell's recipe."""
SPLIT = "split"
"""Differs between the splits (seeds) of one table cell."""
PACKABLE = "packable"
"""May differ between the runs of one training pack."""
SWEEP = "sweep"
"""Set by a sweep itself (grid axes, machine options, dependencies): not a sweep override."""


def role_field(default: Any = None, *roles: str, factory: Any = None) -> Any:
    metadata = {"roles": frozenset(roles)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def fields_with_role(cls: type, role: str) -> frozenset[str]:
    """The dotted names (``data.seed``) of the leaf fields of ``cls`` with ``role``; a role on a nested config
    field applies to all its leaves.

    >>> sorted(fields_with_role(ClassifierConfig, PACKABLE))
    ['data.seed', 'generator', 'method']
    """
    return frozenset(name for name, roles in _leaf_roles(cls).items() if role in roles)


def leaf_fields(cls: type) -> frozenset[str]:
    """The dotted names of every leaf field of ``cls``."""
    return frozenset(_leaf_roles(cls))


def _leaf_roles(cls: type, prefix: str = "", inherited: frozenset[str] = frozenset()) -> dict[str, frozenset[str]]:
    hints = typing.get_type_hints(cls)
    leaves: dict[str, frozenset[str]] = {}
    for f in fields(cls):
        roles = inherited | f.metadata.get("roles", frozenset())
        nested = _nested_config(hints[f.name])
        if nested is None:
            leaves[prefix + f.name] = roles
        else:
            leaves.update(_leaf_roles(nested, f"{prefix}{f.name}.", roles))
    return leaves


def _nested_config(hint: Any) -> type | None:
    """The config dataclass a field holds (``MaskConfig | None`` -> ``MaskConfig``), or ``None``."""
    candidates = typing.get_args(hint) or (hint,)
    return next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)


# ----------------------------------------------------------------------------------------------- run configs


@dataclass
class DataConfig:
    """Which images a run trains on: dataset, images per class k, split seed."""

    dataset: str = "cifar10"
    k: int = 10
    seed: int = role_field(0, SPLIT, PACKABLE)
    data_root: str | None = role_field(None, MACHINE)
    """Data root; ``None``: ``$CHIMERAMIX_DATA``, else the per-user cache (see ``chimeramix.data``)."""
    folder_image_size: int = 32
    """Side to which ``folder:`` images are resized."""


@dataclass
class MaskConfig:
    """The masks m of a mixing run (paper section 3.2): a Bernoulli grid, or regions of a segmentation."""

    kind: MaskKind = role_field("grid", SWEEP)
    grid_cells: int = 4
    """Cells per side of the grid."""
    grid_p: float = 0.5
    grid_shift: bool | None = None
    """Shift the grid by a random offset per batch (recipe ``released``)."""
    segmentation_scale: float | None = None
    """Felzenszwalb ``scale``; ``None``: the dataset's (60 for 32 px data, 400 for STL-10)."""
    segmentation_min_size: int | None = None
    """Felzenszwalb ``min_size``; ``None``: the scale."""
    segmentation_sigma: float = 0.8
    region_choice: RegionChoice | None = None
    """``paper``: each segment of x1 with probability 0.5; ``released``: an id range [l, u) of x2's segments."""


@dataclass
class GeneratorConfig:
    """A ChimeraMix generator run (paper section 3.1, supplement C.1)."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    masks: MaskConfig = role_field(None, factory=MaskConfig)
    recipe: Recipe = role_field("paper", SWEEP)
    architecture: Architecture | None = None
    """``paper``: residual blocks after the mix run, 3x3 upsampling; ``released``: none do, 2x2 bias-free."""
    discriminator: Architecture | None = None
    """``paper``: 3x3 patch map at 64 px; ``released``: zero-padded before the last conv, 4x4."""
    blocks: int = 4
    mix_after: int = 2
    base_channels: int = 64
    working_size: int | None = None
    input_crop: int | None = None
    """Reflect padding of the random crop of the generator's inputs (0: none; ``released``: 8 px at 64 px)."""
    # optimisation
    epochs: int = 200
    batch_size: int | None = None
    repetition: int | None = None
    """R in ``max(R // k, 1)``."""
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float | None = None
    lr_milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    """Fractions of training at which the lr is multiplied by ``lr_gamma`` (epochs 60/120/160 of 200)."""
    lr_gamma: float = 0.2
    w_rec: float = 1000.0
    w_lap: float = 1.0
    w_adv: float = 1.0
    discriminator_loss: Literal["mean", "sum"] | None = None
    """L_D as the mean (paper recipe) or the sum (released) of its real and fake terms."""
    # bookkeeping
    checkpoint_every: int = role_field(10, MACHINE)
    """Epochs between checkpoints (and pictures); the last epoch always writes one."""
    device: str = role_field("auto", MACHINE, SWEEP)
    amp: bool = True
    """bf16 autocast on CUDA; ignored on CPU."""
    tensorboard: bool = role_field(False, MACHINE)
    fast: bool = role_field(False, MACHINE, SWEEP)
    """Use the fast GPU path (``chimeramix.train.fast``); the reference path otherwise."""
    preset: str = role_field("paper", SWEEP)

    @property
    def feature_size(self) -> int:
        """The side of the encoder's features (and of the masks): a quarter of the working side."""
        if self.working_size is None:
            raise ValueError("feature_size needs a config resolved by config.resolve_generator")
        return self.working_size // 4


@dataclass
class ClassifierConfig:
    """A classifier run with one augmentation method (paper sections 3.1, 4, supplement C.2)."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    method: str = role_field("baseline", SWEEP, PACKABLE)
    recipe: Recipe = role_field("paper", SWEEP)
    generator: str | None = role_field(None, SWEEP, SPLIT, PACKABLE)
    """Run directory of a finished generator (``chimeramix-*`` methods)."""
    allow_mismatch: bool = role_field(False, MACHINE)
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
    masks: MaskConfig | None = None
    """Masks of pixel-space pair mixing (gridmix, segmix); ChimeraMix uses its generator's masks."""
    pair_mixing_p: float = 0.5
    """Probability that a batch is replaced by compositions with same-class partners (ChimeraMix, GridMix,
    SegMix)."""
    cosine_with_ce: bool = False
    """``cosine-loss``: add the cross-entropy term of Barz & Denzler's combined loss."""
    normalization: Literal["subset", "half"] | None = None
    """Inputs normalised with the training subset's statistics (paper recipe) or mean 0.5 / std 0.5."""
    stage_order: Literal["paper", "released"] | None = None
    """``paper``: pair mixing before policy, crop and flip; ``released``: after them (see ``methods``)."""
    eval_every: int = role_field(0, MACHINE)
    """Epochs between test evaluations for curves only (0: only after the last epoch)."""
    checkpoint_every: int = role_field(10, MACHINE)
    device: str = role_field("auto", MACHINE, SWEEP)
    amp: bool = True
    tensorboard: bool = role_field(False, MACHINE)
    fast: bool = role_field(False, MACHINE, SWEEP)
    """Use the fast GPU path (``chimeramix.train.fast``); the reference path otherwise."""
    preset: str = role_field("paper", SWEEP)


RunConfig = TypeVar("RunConfig", GeneratorConfig, ClassifierConfig)

QUICK_GENERATOR = {"epochs": 8, "repetition": 30, "checkpoint_every": 4, "base_channels": 16, "batch_size": 16,
                   "lr": 1e-3}
"""About 150 steps of a 4x narrower generator, at a 5x higher lr to make up for them (~2.5 min on 1 CPU core)."""
QUICK_CLASSIFIER = {"epochs": 10, "repetition": 50, "checkpoint_every": 5, "architecture": "wrn-16-2"}
"""WRN-16-2: on a CPU, WRN-16-8 takes minutes just to evaluate the 10,000 test images."""


def protocol_for(data: DataConfig) -> DatasetProtocol:
    """The protocol of ``data.dataset`` (built-in name or ``folder:PATH``)."""
    return dataset_protocol(data.dataset, data.folder_image_size)


def _unset(config: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``values`` for the fields of ``config`` that are still ``None``."""
    return {name: value for name, value in values.items() if getattr(config, name) is None}


def resolve_masks(masks: MaskConfig, recipe: str, protocol: DatasetProtocol) -> MaskConfig:
    """Fill the mask fields the dataset's protocol and the recipe decide."""
    scale = masks.segmentation_scale if masks.segmentation_scale is not None else protocol.segmentation_scale
    resolved = replace(masks, segmentation_scale=scale,
                       segmentation_min_size=masks.segmentation_min_size or int(scale))
    return replace(resolved, **_unset(resolved, recipe_values(recipe, "masks")))


def resolve_generator(config: GeneratorConfig) -> GeneratorConfig:
    """Fill every ``None`` field from the dataset's protocol and the recipe; returns a new config."""
    protocol = protocol_for(config.data)
    working_size = config.working_size or protocol.generator_size
    resolved = replace(
        config,
        working_size=working_size,
        masks=resolve_masks(config.masks, config.recipe, protocol),
        batch_size=config.batch_size or protocol.generator_batch_size,
        repetition=config.repetition or protocol.generator_repetition,
    )
    return replace(resolved, **_unset(resolved, recipe_values(config.recipe, "generator", working_size)))


def resolve_classifier(config: ClassifierConfig, mask_kind: MaskKind | None = None) -> ClassifierConfig:
    """Fill every ``None`` field from the dataset's protocol and the recipe; returns a new config.

    ``mask_kind``: the kind of the method's pixel-space masks (gridmix, segmix), whose settings the config
    then holds; ``None`` for other methods (their ``masks`` stay ``None``).
    """
    protocol = protocol_for(config.data)
    masks = None
    if mask_kind is not None:
        masks = resolve_masks(replace(config.masks or MaskConfig(), kind=mask_kind), config.recipe, protocol)
    resolved = replace(
        config,
        architecture=config.architecture or protocol.classifier,
        batch_size=config.batch_size or protocol.classifier_batch_size,
        lr=config.lr if config.lr is not None else protocol.classifier_lr,
        weight_decay=config.weight_decay if config.weight_decay is not None else protocol.classifier_weight_decay,
        repetition=config.repetition or protocol.classifier_repetition,
        crop_padding=config.crop_padding if config.crop_padding is not None else protocol.crop_padding,
        cutout_size=config.cutout_size or protocol.cutout_size,
        masks=masks,
    )
    return replace(resolved, **_unset(resolved, recipe_values(config.recipe, "classifier")))


def apply_preset(config: RunConfig, preset: str) -> RunConfig:
    """Return ``config`` with the named preset's values (``paper`` changes nothing, ``quick`` shrinks it)."""
    if preset == "paper":
        return replace(config, preset="paper")
    if preset == "quick":
        values = QUICK_GENERATOR if isinstance(config, GeneratorConfig) else QUICK_CLASSIFIER
        return replace(config, preset="quick", **values)  # type: ignore[arg-type]
    raise ChimeraMixError(f"unknown preset {preset!r}; use 'paper' or 'quick'")


def classifier_config(data: DataConfig, method: str, preset: str, **overrides: Any) -> ClassifierConfig:
    """A classifier config for ``method`` with ``preset`` applied, then ``overrides`` (``None`` values are
    ignored)."""
    config = apply_preset(ClassifierConfig(data=data, method=method), preset)
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})


# ---------------------------------------------------------------------------------------- dicts and overrides


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


def from_dict(cls: type[RunConfig], values: Mapping[str, Any]) -> RunConfig:
    """Rebuild a config written by :func:`to_dict`; unknown keys are an error naming them."""
    built = _build(cls, values, "")
    assert isinstance(built, cls)
    return built


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(f"{prefix}{key}" for key in set(values) - known)
    if unknown:
        raise ChimeraMixError(
            f"config has unknown keys {unknown} for {cls.__name__}; it was written by another chimeramix "
            "version: rerun the job with this version"
        )
    hints = typing.get_type_hints(cls)
    kwargs = dict(values)
    for f in fields(cls):
        if f.name not in kwargs:
            continue
        nested = _nested_config(hints[f.name])
        if nested is not None and isinstance(kwargs[f.name], Mapping):
            kwargs[f.name] = _build(nested, kwargs[f.name], f"{prefix}{f.name}.")
        elif isinstance(kwargs[f.name], list):
            kwargs[f.name] = tuple(kwargs[f.name])
    return cls(**kwargs)


def with_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """``config`` with nested ``overrides`` (``{"epochs": 2, "masks": {"grid_cells": 2}}``) merged in."""
    return from_dict(type(config), merge(to_dict(config), overrides))


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts merged, ``overrides`` winning."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys: ``{"masks": {"grid_cells": 2}}`` -> ``{"masks.grid_cells": 2}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


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
