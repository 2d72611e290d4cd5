"""What a sweep covers (:class:`SweepSpec`: the grid, the preset or budget, the config overrides) and reading it
from a YAML sweep file (:func:`load_sweep_file`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from chimeramix.budget import budget_preset
from chimeramix.components.registry import all_hooks, declared_run_kinds
from chimeramix.config import (
    SECTIONS,
    SWEEP,
    ClassifierConfig,
    fields_with_role,
    flatten,
    leaf_fields,
    parse_int_list,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import check_axes
from chimeramix.protocol import RECIPES, Recipe

SWEEP_FILE_KEYS = frozenset({"datasets", "methods", "k", "seeds", "preset", "recipe", "classifier", "generator_axes",
                             "budget"})
"""The keys of a sweep file besides one per kind of run a method component declares (the overrides of its
config, keyed by the kind's name)."""


@dataclass
class SweepSpec:
    """What a sweep covers: the grid, the preset and config overrides for every classifier and every first run."""

    datasets: list[str]
    methods: list[str]
    ks: list[int]
    seeds: list[int]
    preset: str = "paper"
    recipe: Recipe = "paper"
    classifier: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`ClassifierConfig` fields."""
    first_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Overrides of the config of a first run of a kind a method component declares, by the kind's name (the
    sweep file's key of that name), nested as the config: ``{"generator": {"epochs": 2, "masks": {"grid_cells":
    2}}}`` (ChimeraMix's generator)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Fields of every run's :class:`DataConfig` besides dataset, k and seed (folder options, data root)."""
    generator_axes: dict[str, list[float]] = field(default_factory=dict)
    """Generator settings as axes of the grid: ``{"grid_cells": [1, 2, 4, 8]}``, ``blocks``, ``mix_point``."""
    budget: float | None = None
    """Minutes per job (its generator included) that every job is planned to fit on this machine
    (:mod:`chimeramix.experiments.budget`); its preset is then the budget's label (``20min``)."""


def load_sweep_file(path: str | Path) -> SweepSpec:
    """Read a YAML sweep file (keys: datasets, methods, k, seeds, preset, generator, classifier)."""
    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle)
    except OSError as error:
        raise ChimeraMixError(f"cannot read sweep file {path}: {error.strerror}; check the path") from None
    except yaml.YAMLError as error:
        raise ChimeraMixError(f"sweep file {path} is not valid YAML ({error}); fix its syntax") from None
    if not isinstance(values, dict):
        raise ChimeraMixError(f"sweep file {path} must be a mapping with keys datasets, methods, k, seeds")
    kinds = declared_run_kinds()
    unknown = sorted(set(values) - SWEEP_FILE_KEYS - set(kinds))
    if unknown:
        raise ChimeraMixError(
            f"sweep file {path} has unknown keys {unknown}; use only {', '.join(sorted(SWEEP_FILE_KEYS | set(kinds)))}"
        )
    missing = sorted({"datasets", "methods", "k", "seeds"} - set(values))
    if missing:
        raise ChimeraMixError(f"sweep file {path} lacks the keys {missing}; add them")
    return SweepSpec(
        datasets=_str_list(values["datasets"], "datasets"),
        methods=_str_list(values["methods"], "methods"),
        ks=_int_list(values["k"], "k"),
        seeds=_int_list(values["seeds"], "seeds"),
        preset=_preset(values),
        recipe=_recipe(values.get("recipe", "paper")),
        classifier=_overrides(values.get("classifier") or {}, ClassifierConfig),
        first_runs={name: _overrides(values[name], kind.config) for name, kind in kinds.items() if values.get(name)},
        generator_axes=_axes(values.get("generator_axes") or {}),
        budget=_budget(values.get("budget")),
    )


def check_overrides(values: dict[str, Any], cls: type) -> None:
    """Raise a clear error for override keys that are not settable fields of ``cls`` (nested as the config,
    e.g. ``masks: {grid_cells: 2}``); the fields a sweep sets itself are not."""
    set_by_sweep = fields_with_role(cls, SWEEP)
    allowed = (leaf_fields(cls) | _section_fields(cls)) - set_by_sweep
    unknown = sorted(set(flatten(values)) - allowed)
    if unknown:
        retired = getattr(cls, "RETIRED", {})
        moved = "".join(f"; {key} is {', '.join(flatten(retired[key][1]))} now" for key in unknown if key in retired)
        raise ChimeraMixError(
            f"unknown {cls.__name__} override keys {unknown}; use fields of that config (nested fields as "
            f"mappings, e.g. masks: {{grid_cells: 2}}) except those a sweep sets: {', '.join(sorted(set_by_sweep))}"
            + moved
        )


def _section_fields(cls: type) -> set[str]:
    """The dotted fields of the method components' own settings, when ``cls`` holds them (``section.field``)."""
    if not any(f.metadata.get(SECTIONS) for f in fields(cls)):
        return set()
    return {f"{hooks.section}.{name}" for hooks in all_hooks().values() if hooks.section and hooks.settings
            for name in leaf_fields(hooks.settings)}


def _preset(values: dict[str, Any]) -> str:
    """The preset of a sweep file: its ``preset`` (default ``paper``), or its budget's label."""
    budget = _budget(values.get("budget"))
    if budget is None:
        return str(values.get("preset", "paper"))
    if "preset" in values:
        raise ChimeraMixError("a sweep file sets a budget or a preset, not both; drop one of them")
    return budget_preset(budget)


def _budget(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ChimeraMixError(f"the sweep file's budget must be a positive number of minutes, got {value!r}")
    return float(value)


def _recipe(value: Any) -> Recipe:
    if value not in RECIPES:
        raise ChimeraMixError(f"unknown recipe {value!r} in the sweep file; use one of {', '.join(RECIPES)}")
    recipe: Recipe = value
    return recipe


def _str_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ChimeraMixError(f"sweep key {key!r} must be a list of names or a comma-separated string")


def _int_list(value: Any, key: str) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        return parse_int_list(value)
    if isinstance(value, list) and all(isinstance(item, int) for item in value):
        return value
    raise ChimeraMixError(f"sweep key {key!r} must be an integer, a list of integers or a string like '0-4'")


def _axes(values: Any) -> dict[str, list[float]]:
    if not isinstance(values, dict):
        raise ChimeraMixError("the sweep file's generator_axes must be a mapping of axis: list of values")
    axes = {str(axis): _number_list(value, f"generator_axes.{axis}") for axis, value in values.items()}
    check_axes(axes)
    return axes


def _number_list(value: Any, key: str) -> list[float]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, int | float) and not isinstance(item, bool) for item in items):
        raise ChimeraMixError(f"sweep key {key!r} must be a number or a list of numbers")
    return list(items)


def _overrides(values: Any, cls: type) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ChimeraMixError(f"the sweep file's {cls.__name__} overrides must be a mapping of field: value")
    check_overrides(values, cls)
    return dict(values)
