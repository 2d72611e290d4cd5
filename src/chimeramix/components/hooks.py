"""What the core asks of a method component beyond the image-space stages: its own settings, how they resolve and
what presets set in them, its command-line options, its network (a front end), the run it needs first when that
run is of its own kind (:class:`RunKind`: e.g. a latent-code generator fitted to the split), its pair mixing (a
:class:`GroupComposer`), its loss, batches of its own (mixes under a teacher), its learning-rate schedule, its
pictures, its table rows and what its runs cost.

A component declares a :class:`ComponentHooks` in its own folder and names it in its registry entry
(``Component.hooks``, ``module:NAME``); the core calls these hooks and never the method by name. Every hook is
optional. The hooks object is imported when first needed, so its module must import no PyTorch at the top: the
hooks that train (the network's builder, ``batches``, ``lr_schedule``, ``pictures``, a run kind's opener) are
``module:function`` references (:func:`load_reference`) loaded when a run trains.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chimeramix.config import ClassifierConfig, DataConfig, from_dict

if TYPE_CHECKING:
    import torch


def load_reference(reference: str) -> Callable[..., Any]:
    """The function a ``module:function`` reference names."""
    module, _, name = reference.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


@dataclass(frozen=True)
class FrontEnd:
    """The network of a front-end component: a top model of width W under the front end.

    >>> FrontEnd("front-wrn-{width}", "m:f", {"paper": 8}).width_of("front-wrn-3")
    3
    """

    architecture: str
    """The architecture names of its network, with ``{width}`` for W (``front-wrn-{width}``)."""
    build: str
    """``module:function``: ``(width, num_classes, component, settings, image_size) -> nn.Module``; ``settings``
    the component's section (``None``: its defaults, e.g. a network to load weights into), ``image_size`` the
    training images' side (``None``: not known)."""
    widths: Mapping[str, int]
    """W by preset (``paper``, ``quick``); another preset gets the paper's."""

    def name(self, width: int | str) -> str:
        """The architecture of width W (``WIDTH``: its pattern, for messages)."""
        return self.architecture.format(width=width)

    def width_of(self, architecture: str) -> int | None:
        """W of an architecture name of this network, or ``None`` when the name is another network's."""
        pattern = re.escape(self.architecture).replace(re.escape("{width}"), r"(\d+)")
        match = re.fullmatch(pattern, architecture)
        return int(match[1]) if match else None

    def default(self, preset: str) -> str:
        """The architecture of ``preset``."""
        return self.name(self.widths.get(preset, self.widths["paper"]))


class FedSegments(Protocol):
    """Segments of images as they are fed (the released recipe's segment masks): ``(images, keys)`` -> int64
    B x H x W ids of float B x 3 x H x W images; ``keys`` (one hashable per image, or ``None``) name the images that
    are a pure function of their key, whose segments may be reused (:func:`~chimeramix.image_ops.crop_keys`)."""

    def __call__(self, images: torch.Tensor, keys: Sequence[Hashable] | None = None) -> torch.Tensor: ...


class Erasing(Protocol):
    """The erasing stage of the per-step augmentation, made by an erasing component's registry entry
    (``Component.transform``: ``(released, size) -> Erasing``; ``released``: the authors' stage order, ``size``:
    ``ClassifierConfig.cutout_size``): its draws for a batch, from the step's generator, then the erased images."""

    normalised: bool
    """Whether it erases normalised images (after normalising); ``False``: images in [0, 1], before."""

    def sample(self, count: int, height: int, width: int, rng: torch.Generator) -> Any:
        """The draws of ``count`` images of ``height`` x ``width`` (hole centres, a seed...)."""
        ...

    def apply(self, images: torch.Tensor, draws: Any) -> torch.Tensor:
        """The B x 3 x H x W ``images`` erased as ``draws`` say; deterministic given them."""
        ...


class GroupComposer(Protocol):
    """What the per-step augmentation needs of a pair (or group) mixing: how many images a composition takes,
    its random draws for a batch (masks, or a latent interpolation's ratio and noise codes), then the compositions.

    A group is N x B positions in the training subset: the batch images first, then N - 1 same-class partners
    of each."""

    images: int
    """N, the images per composition (2: pairs)."""
    augmented: bool
    """Whether the compositions go through the per-image augmentation (policy, crop and flip, erasing) as real
    images do; ``False``: they are only normalised (batches generated from latent codes)."""
    segments: torch.Tensor | FedSegments | None
    """Where segmentation masks get their segments: the cached ids of the training subset (an N x H x W tensor),
    a segmenter of the images as fed (:class:`FedSegments`), or ``None`` (no segments needed)."""
    segment_images: tuple[int, ...]
    """The images of a group (0: the batch image, 1..N-1: its partners) whose segments the draws read."""

    def sample(self, count: int, rng: torch.Generator, segments: Sequence[torch.Tensor | None] | None = None
               ) -> torch.Tensor:
        """The draws of a batch of ``count`` groups, from ``rng`` (``segments``: count x H x W segment ids of each
        image of a group, ``None`` for those not in ``segment_images``)."""
        ...

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """Compositions (float images in [0, 1], B x 3 x H x W) of the N x B x 3 x H x W float images in [0, 1]
        of the groups at ``group``."""
        ...


@dataclass(frozen=True)
class Composing:
    """What a kind of run whose finished model composes images for a classifier (a generating first run) adds:
    how the classifier loads it, how ``generator train --kind NAME`` configures and reports it, how ``generator
    sample`` draws it, and its method's name in the analysis."""

    title: str
    """The run in messages (``NAME stage 1``)."""
    method_label: str | Callable[[Any], str]
    """Its method's name in the analysis's tables, or ``(config) -> name`` where the run's config decides it."""
    composer: str
    """``module:function``: ``(context) -> GroupComposer`` of a finished run (:class:`GroupComposer`), where
    ``context`` is a :class:`~chimeramix.methods.frozen_run.ComposerContext`: the run's folder, the split's
    training images and the classifier's device, precision and segments cache."""
    sampler: str
    """``module:function``: ``(run_dir, count, seed, device) -> uint8 H x W x 3`` picture of ``count`` rows."""
    sample_rows: str
    """What a row of the sampler's picture shows."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    """Adds its option group to ``generator train``."""
    from_arguments: Callable[[argparse.Namespace, DataConfig], Any]
    """The run config the parsed options of ``generator train`` describe: its preset, then its own options given
    (the command line then applies the options every kind shares: ``--epochs``, ``--lr``, ``--no-amp``...)."""
    summary: Callable[[Mapping[str, float], Mapping[str, float]], str]
    """``(first epoch's mean losses, last epoch's) -> text`` after ``generator train``."""
    option: str | None = None
    """Its value of ``generator train --kind`` (``None``: the kind's name)."""
    problems: Callable[[Any, ClassifierConfig], list[str]] | None = None
    """``(finished run's config, classifier config) -> mismatches``: what besides the split (which every kind's
    run must share with the classifier) a classifier must match, each as ``trained for ...`` goes on."""

    def label_of(self, config: Any) -> str:
        """Its method's name in the analysis for a run of ``config``."""
        return self.method_label if isinstance(self.method_label, str) else self.method_label(config)


class AxisSetting(Protocol):
    """One point of a kind's sweep axes (:class:`SweepAxes`): the values of its settings that a sweep varies."""

    def value(self, axis: str) -> float:
        """Its value on ``axis``."""
        ...

    def overrides(self) -> dict[str, Any]:
        """The run config overrides of the setting, nested as the config (empty for the kind's default)."""
        ...

    def id_part(self) -> str:
        """Its mark in job ids where it differs from the default (``g8``); empty for the default."""
        ...

    def label(self, without_axis: str | None = None) -> str:
        """Its mark in table rows where it differs from the default, leaving out ``without_axis``."""
        ...


@dataclass(frozen=True)
class SweepAxes:
    """Settings of a kind's runs that a sweep varies as axes of its grid (a sweep file's ``generator_axes``,
    ``sweep --generator-axis``, ``table --over``): ChimeraMix's generator's, for the paper's sensitivity study."""

    titles: Mapping[str, str]
    """The axes as a sweep names them, with their titles in tables and plots."""
    settings: Callable[[Mapping[str, Sequence[float]], str], Sequence[AxisSetting]]
    """``(axes, method) -> settings``: every point of the grid that ``axes`` (some of :attr:`names`, checked) span
    for the run a classifier of the method (its canonical name) needs first."""
    check: Callable[[Mapping[str, Sequence[float]], Mapping[str, Any]], None]
    """``(axes, the sweep's overrides of the kind's config)``: refuses impossible values and axes the overrides
    also set."""
    setting_of: Callable[[Mapping[str, Any]], AxisSetting]
    """The setting of a run's config dict (``config.json``)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.titles)


@dataclass(frozen=True)
class RunBudget:
    """How a time budget (``--budget MINUTES``, :mod:`chimeramix.budget`) plans a kind's first runs: the kind's
    ``first_run_config`` of a budgeted classifier config sets these fields from its plan."""

    fields: tuple[str, ...]
    """The config fields the budget decides, which a budgeted sweep does not take as overrides."""
    summary: Callable[[Any], str]
    """``(config) -> text``: a budgeted run's networks in the printed plan (``32 px, 16 channels, batch 16``)."""


@dataclass(frozen=True)
class RunKind:
    """One kind of run: the core's (the classifier: :mod:`chimeramix.runkinds`) or one a method component declares
    for the run it needs first (:attr:`ComponentHooks.run_kind`: ChimeraMix's generator, say)."""

    config: type[Any]
    """Its config class; ``config.KIND`` is the kind's name (in ``config.json``, a sweep's jobs and the cost keys)
    and a component's config class declares its quick preset's values as ``QUICK``."""
    resolve: Callable[[Any], Any]
    """Fills the config's unset fields."""
    opener: str
    """``module:function`` that opens a run: ``(config, run_dir, *, resume)`` -> a
    :class:`~chimeramix.train.run.TrainingRun`, or the stored result of a finished run."""
    packer: str
    """``module:function``: a config's values that the runs of one pack share."""
    cost_part: Callable[[Any], str]
    """What the speed of a run with this resolved config depends on (the middle of its cost key)."""
    variant: Callable[[Any], str]
    """The variant part of its run folder's name (a generator's masks, a classifier's method)."""
    plural: str
    """The kind's runs in messages (``classifiers``)."""
    overhead_seconds: Mapping[str, float] = field(default_factory=dict)
    """Seconds a run costs besides its steps, by device kind (start-up, data loading, evaluation, pictures)."""
    composing: Composing | None = None
    """Set when a finished run composes images for a classifier (a generating first run)."""
    job_prefix: str | None = None
    """The start of its jobs' ids in a sweep (``None``: the kind's name)."""
    job_variant: Callable[[ClassifierConfig], str] | None = None
    """``(classifier config) -> name``: which of its runs a classifier needs, in its jobs' ids after the split
    (``None``: one per split and setting)."""
    axes: SweepAxes | None = None
    """Its settings that a sweep may vary as axes of the grid (``None``: none)."""
    budget: RunBudget | None = None
    """How a time budget plans its runs (``None``: ``--budget`` does not plan the methods that need them)."""

    @property
    def name(self) -> str:
        return str(self.config.KIND)

    def open(self, config: Any, run_dir: Any, *, resume: bool) -> Any:
        """Open a run of this kind (see :attr:`opener`)."""
        return load_reference(self.opener)(config, run_dir, resume=resume)

    def pack_key(self, config: Any) -> dict[str, Any]:
        """The values of ``config`` that the runs of one pack share."""
        key: dict[str, Any] = load_reference(self.packer)(config)
        return key

    def cost_key(self, config: dict[str, Any], precision: str) -> str:
        """``<kind>/<what its speed depends on>/<precision>`` of a config dict."""
        return f"{self.name}/{self.cost_part(self.resolve(from_dict(self.config, config)))}/{precision}"


@dataclass(frozen=True)
class ComponentHooks:
    """The hooks of one method component; see the module docstring. ``settings`` is a dataclass whose fields are
    the component's own settings, kept in the classifier config's section ``section``."""

    section: str | None = None
    settings: type | None = None
    resolve: Callable[[ClassifierConfig, Any], ClassifierConfig] | None = None
    """``(config, settings) -> config``: fills what the component decides (before the protocol fills
    the rest) and checks what it cannot train; the settings are the section's, defaults filled."""
    preset_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Values a preset (``quick``) sets in the section; values given after the preset win."""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    """Adds the component's option group to ``classifier train``."""
    from_arguments: Callable[[argparse.Namespace], dict[str, Any] | None] | None = None
    """The section the parsed options give (``None``: none given)."""
    front_end: FrontEnd | None = None
    run_kind: RunKind | None = None
    """The kind of the run the component needs first when it is its own (the registry entry's ``first_run`` names
    it); its config for a classifier is ``first_run_config``'s."""
    first_run_config: Callable[[ClassifierConfig], Any] | None = None
    """``(classifier config) -> run config``: the run of ``run_kind`` that a classifier of the config needs (its
    split, preset and machine)."""
    check: str | None = None
    """``module:function``: ``(config) -> None``: refuses what a run of the resolved config cannot train (a
    missing or mismatched run it needs first), before its run folder is written."""
    batches: str | None = None
    """``module:function``: ``(config, augmentation, data, folder, device) -> batches``: the run's batches instead
    of the augmentation's (``batches(positions, rng)`` -> inputs, targets), with ``epoch_columns()`` (the log's
    columns of the epoch that ends) and ``result_fields()`` (what the run's result adds)."""
    pair_mixing: str | None = None
    """``module:function``: ``(config, data, folder, device) -> GroupComposer``: the pair (or group) mixing of the
    component's classifier runs (:class:`GroupComposer`): same-class images mixed in pixel space, or composed by
    the frozen first run that ``config.generator`` names."""
    criterion: str | None = None
    """``module:function``: ``(config, num_classes) -> nn.Module``: the classifier's loss instead of cross-entropy."""
    packs_alone: bool = False
    """Its runs train in no pack (their batches are their own)."""
    cost_variant: Callable[[ClassifierConfig], str] | None = None
    """``(resolved config) -> name``: what a step costs besides the network, the variant part of the cost key."""
    pool_mixes: Callable[[ClassifierConfig], int] | None = None
    """``(resolved config) -> N``: mixes made once before training (a cost unit of their own, under the cost key
    whose variant ends in ``-mix``), stored in the run folder's ``pool_file``."""
    pool_file: str | None = None
    lr_schedule: str | None = None
    """``module:function``: ``(config, optimizer, total_steps) -> LRScheduler | None``; ``None`` from it: the
    protocol's cosine annealing."""
    pictures: str | None = None
    """``module:function``: ``(model, path_of, image_size, initial) -> None``: draws the component's pictures
    (``path_of(name)`` is the run folder's picture path) at the start (``initial``) and at every checkpoint."""
    table_variant: Callable[[Mapping[str, Any]], str] | None = None
    """``(section) -> mark``: a table row of its own for runs with these settings (``""``: the method's row)."""
    step_seconds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Default seconds per step of its runs by device kind and cost key, until this machine measured them."""

    def settings_of(self, config: ClassifierConfig) -> Any:
        """The component's settings in ``config`` (defaults where the section is missing)."""
        assert self.section is not None and self.settings is not None
        return from_dict(self.settings, config.method_settings.get(self.section) or {})
