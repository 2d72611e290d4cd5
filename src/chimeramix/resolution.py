"""Filling run configs: a preset's values, then every ``None`` field from the dataset's protocol, the recipe,
the data (a ``folder:`` dataset's content) and the method (its masks, its components' own settings through
their hooks). The config saved with a run is the resolved one, so it is complete and explicit.

The configs and the presets' values are :mod:`chimeramix.config`; this module sits above the data and the
method registry, which it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chimeramix.budget import budget_minutes
from chimeramix.components.registry import (
    Method,
    all_hooks,
    component_hooks,
    components,
    front_end_of,
    parse_method,
)
from chimeramix.config import (
    BUILTIN_FOLDER_SIZE,
    ClassifierConfig,
    DataConfig,
    MaskConfig,
    RunConfig,
    protocol_for,
    resolve_masks,
    unset_values,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.protocol import FOLDER_PREFIX, choose_folder_image_size, dataset_entry, recipe_values


def resolve_data(data: DataConfig) -> DataConfig:
    """Fill the data fields that depend on the images: for a ``folder:`` dataset its absolute, resolved path (a
    new config; a recorded one keeps the path it has), its content fingerprint and, unless given, the image size
    chosen from the images (with the reason); built-in datasets keep the default size. Reads the folder's file
    headers and bytes (cached per content)."""
    if not data.dataset.startswith(FOLDER_PREFIX):
        return replace(data, folder_image_size=data.folder_image_size or BUILTIN_FOLDER_SIZE)
    if data.fingerprint is not None and data.folder_image_size is not None:
        return data
    from chimeramix.data.folder_scan import absolute_dataset, describe_folder, folder_path  # PIL: loaded when read

    facts = describe_folder(folder_path(data.dataset))
    dataset = data.dataset if data.fingerprint is not None else absolute_dataset(data.dataset)
    resolved = replace(data, dataset=dataset, fingerprint=data.fingerprint or facts.fingerprint)
    if data.folder_image_size is not None:
        return resolved
    size, reason = choose_folder_image_size(facts.median_side)
    return replace(resolved, folder_image_size=size, image_size_choice=reason)


def num_classes(dataset: str) -> int:
    """Number of classes of a built-in dataset (the registry's), or of a ``folder:PATH`` dataset (its
    sub-folders)."""
    if dataset.startswith(FOLDER_PREFIX):
        from chimeramix.data.folder_scan import folder_path, list_folder  # reads the folder: only when planning it

        return len(list_folder(folder_path(dataset)).classes)
    return dataset_entry(dataset).num_classes


def resolve_components(config: ClassifierConfig) -> ClassifierConfig:
    """The method's components' own settings (:class:`~chimeramix.components.hooks.ComponentHooks`): a section no
    component declares is refused, those of components the method lacks are dropped (so that one sweep can set
    them for all its methods), the method's name becomes canonical, and each of its components fills its section
    and what it decides (a front end its network of the preset)."""
    declared = {hooks.section for hooks in all_hooks().values() if hooks.section is not None}
    unknown = sorted(set(config.method_settings) - declared)
    if unknown:
        raise ChimeraMixError(f"the classifier config has settings {unknown} that no method declares (known: "
                              f"{', '.join(sorted(declared)) or 'none'}); check the spelling, or drop them")
    method = parse_method(config.method)
    own = {name for _, hooks in method.hooks() if (name := hooks.section) is not None}
    config = replace(config, method=method.name,
                     method_settings={name: section for name, section in config.method_settings.items() if name in own},
                     architecture=config.architecture or method.default_architecture(config.preset))
    for _, hooks in method.hooks():
        if hooks.resolve is not None:
            settings = hooks.settings_of(config) if hooks.settings is not None else None
            config = hooks.resolve(config, settings)
    return config


def check_architecture(method: Method, architecture: str) -> None:
    """A method with a front end trains its network; no other method trains a front end's network."""
    network, front_end = method.front_end_network, front_end_of(architecture)
    if network is not None and network.width_of(architecture) is None:
        raise ChimeraMixError(f"method {method.name!r} trains the front end {method.front_end}, which needs the "
                              f"architecture {network.name('WIDTH')} (e.g. {network.default('paper')}), not "
                              f"{architecture!r}")
    if network is None and front_end is not None:
        owners = [name for name in components() if (hooks := component_hooks(name)) and hooks.front_end is front_end]
        raise ChimeraMixError(f"architecture {architecture!r} is the network of the front end {' or '.join(owners)}; "
                              "train it with that method (alone or joined with augmentations by '+')")


def resolve_classifier(config: ClassifierConfig) -> ClassifierConfig:
    """Fill every ``None`` field from the dataset's protocol, the recipe and the method; returns a new config.

    A method with pixel-space masks (gridmix, segmix) gets their settings in ``masks`` (other methods' stay
    ``None``); its components their own settings (:func:`resolve_components`: a front end its network).
    """
    config = resolve_components(replace(config, data=resolve_data(config.data)))
    method = parse_method(config.method)
    protocol = protocol_for(config.data)
    masks = None
    if method.pixel_mask_kind is not None:
        masks = resolve_masks(replace(config.masks or MaskConfig(), kind=method.pixel_mask_kind), config.recipe,
                              protocol)
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
    resolved = replace(resolved, **unset_values(resolved, recipe_values(config.recipe, "classifier")))
    check_architecture(method, str(resolved.architecture))
    return resolved


def apply_preset(config: RunConfig, preset: str) -> RunConfig:
    """Return ``config`` with the named preset's values (``paper`` changes nothing, ``quick`` shrinks it: its
    config class's ``QUICK``, and what the method's components set in their sections under it). A budget's label
    (``20min``) keeps the protocol's values: its plan (:mod:`chimeramix.experiments.budget`) sets the networks and
    the steps."""
    if preset == "paper" or budget_minutes(preset) is not None:
        return replace(config, preset=preset)
    if preset == "quick":
        values = type(config).QUICK
        if isinstance(config, ClassifierConfig):
            method = parse_method(config.method)
            front_end = method.default_architecture("quick")
            values = {**values, "architecture": front_end or values["architecture"],
                      "method_settings": preset_settings(config, method, preset)}
        return replace(config, preset="quick", **values)
    raise ChimeraMixError(f"unknown preset {preset!r}; use 'paper' or 'quick'")


def first_run_of(cls: Callable[..., RunConfig], classifier: ClassifierConfig) -> RunConfig:
    """A config of ``cls`` (a component's kind of run) for the run ``classifier`` needs first: the classifier's
    data, preset and machine (device, bf16 choice, fast path)."""
    return apply_preset(cls(data=classifier.data, device=classifier.device, amp=classifier.amp, fast=classifier.fast),
                        classifier.preset)


def preset_settings(config: ClassifierConfig, method: Method, preset: str) -> dict[str, dict[str, Any]]:
    """The config's sections with the values that ``preset`` sets for the method's components."""
    sections = dict(config.method_settings)
    for _, hooks in method.hooks():
        values = hooks.preset_settings.get(preset)
        if values and hooks.section is not None:
            sections[hooks.section] = {**sections.get(hooks.section, {}), **values}
    return sections


def first_run_field(method: str) -> str | None:
    """The classifier config's field that names the folder of the run ``method`` needs first, or ``None`` when it
    needs none: ``teacher`` for a teacher, ``generator`` for a run of a kind a component declares (a run that
    composes images)."""
    first = parse_method(method).first_run
    if first is None:
        return None
    return "teacher" if first == "teacher" else "generator"


def with_first_run(config: ClassifierConfig, folder: str) -> ClassifierConfig:
    """``config`` whose method's first run is the run in ``folder`` (its :func:`first_run_field`)."""
    field = first_run_field(config.method)
    if field is None:
        raise ValueError(f"method {config.method!r} needs no run trained first")
    return replace(config, teacher=folder) if field == "teacher" else replace(config, generator=folder)


def first_run_config(config: ClassifierConfig) -> Any:
    """The config of the run that ``config``'s method needs trained first, or ``None``: the teacher of a method
    that mixes under one (the classifier as a baseline; the teacher of a student with a front end has the preset's
    plain network), or the run of the kind a component declares (its hooks' ``first_run_config``, e.g. a generator
    with the classifier's data, preset and machine)."""
    method = parse_method(config.method)
    if method.first_run == "teacher":
        architecture = config.architecture
        if method.front_end:
            architecture = apply_preset(ClassifierConfig(data=config.data, method="baseline"),
                                        config.preset).architecture
        return replace(config, method="baseline", teacher=None, method_settings={},
                       architecture=architecture)
    for _, hooks in method.hooks():
        if hooks.run_kind is not None and hooks.run_kind.name == method.first_run:
            assert hooks.first_run_config is not None, f"the hooks of {method.name} declare no first_run_config"
            return hooks.first_run_config(config)
    if method.first_run is not None:
        raise ChimeraMixError(f"method {method.name!r} needs a {method.first_run!r} run first that none of its "
                              "components' hooks declares (run_kind); fix the method's registry entry")
    return None


def classifier_config(data: DataConfig, method: str, preset: str, **overrides: Any) -> ClassifierConfig:
    """A classifier config for ``method`` with ``preset`` applied, then ``overrides`` (``None`` values are
    ignored)."""
    config = apply_preset(ClassifierConfig(data=data, method=method), preset)
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})
