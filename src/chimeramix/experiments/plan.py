"""Sweep planning: a grid of (dataset, method, k, seed) becomes generator and classifier jobs.

Method names are parsed by :func:`chimeramix.methods.parse_method` (so ``trivialaugment+chimeramix-seg`` and
``chimeramix-seg+trivialaugment`` are one job). A classifier job with a ``chimeramix-*`` method depends on a
generator job (``glico`` on GLICO's stage 1, ``supermix`` on its teacher: the baseline job of its split).
Generator jobs are shared: every method that needs the same generator (same dataset, k, seed, mask kind,
preset, recipe and generator overrides) uses one run. Job ids are readable
(``gen-cifar10-k10-s0-grid-quick``, ``cls-cifar10-k10-s0-baseline-quick``), with ``-released`` for the
released recipe and a short hash of the overrides appended when there are any. Generator settings can be axes
of the grid too (:mod:`chimeramix.experiments.axes`: residual blocks, relative mixing point, grid cells); a
ChimeraMix method then gets a generator and a classifier job per setting, named by the setting where it
differs from the default (``gen-cifar10-k10-s0-grid-g8-quick``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from chimeramix.budget import budget_preset
from chimeramix.config import (
    SWEEP,
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    GeneratorConfig,
    GlicoConfig,
    fields_with_role,
    flatten,
    from_dict,
    leaf_fields,
    merge,
    parse_int_list,
    to_dict,
    with_overrides,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import GeneratorSetting, check_axes, generator_settings
from chimeramix.experiments.budget import apply_budget, check_budget_overrides, plan_budget, plan_key
from chimeramix.experiments.costs import CostBook, cost_key
from chimeramix.methods.registry import Method, parse_method
from chimeramix.protocol import FOLDER_PREFIX, RECIPES, Recipe, repetition_factor, steps_per_epoch
from chimeramix.resolution import (
    apply_preset,
    first_run_config,
    num_classes,
    resolve_classifier,
    resolve_data,
    resolve_generator,
)
from chimeramix.runkinds import kind_of

SWEEP_FILE_KEYS = frozenset({"datasets", "methods", "k", "seeds", "preset", "recipe", "generator", "classifier",
                             "glico", "generator_axes", "budget"})


@dataclass
class SweepSpec:
    """What a sweep covers: the grid, the preset and config overrides for every generator / classifier."""

    datasets: list[str]
    methods: list[str]
    ks: list[int]
    seeds: list[int]
    preset: str = "paper"
    recipe: Recipe = "paper"
    generator: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`GeneratorConfig` fields, nested as the config: ``{"epochs": 2, "masks":
    {"grid_cells": 2}}``."""
    classifier: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`ClassifierConfig` fields."""
    glico: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`GlicoConfig` fields (GLICO's stage 1)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Fields of every run's :class:`DataConfig` besides dataset, k and seed (folder options, data root)."""
    generator_axes: dict[str, list[float]] = field(default_factory=dict)
    """Generator settings as axes of the grid: ``{"grid_cells": [1, 2, 4, 8]}``, ``blocks``, ``mix_point``."""
    budget: float | None = None
    """Minutes per job (its generator included) that every job is planned to fit on this machine
    (:mod:`chimeramix.experiments.budget`); its preset is then the budget's label (``20min``)."""


@dataclass(frozen=True)
class Job:
    """One training run of a sweep; ``config`` is the run's config as a dict (see ``chimeramix.config``)."""

    id: str
    kind: str
    """The kind of run (:data:`chimeramix.runkinds.RUN_KINDS`)."""
    config: dict[str, Any]
    depends_on: str | None = None
    """Id of the generator job a classifier job needs (SuperMix: its teacher's classifier job)."""
    steps: int = 0
    """Optimizer steps of the whole run (the cost estimate's unit)."""
    pool_mixes: int = 0
    """Mixes a SuperMix student makes for its pool before training (the estimate's other unit)."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "config": self.config, "depends_on": self.depends_on,
                "steps": self.steps, "pool_mixes": self.pool_mixes}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Job:
        return cls(id=values["id"], kind=values["kind"], config=values["config"],
                   depends_on=values.get("depends_on"), steps=int(values.get("steps", 0)),
                   pool_mixes=int(values.get("pool_mixes", 0)))

    @property
    def cost_key(self) -> str:
        """Key of this job's per-step cost (see :func:`chimeramix.experiments.costs.cost_key`)."""
        return cost_key(self.kind, self.config)

    @property
    def recipe(self) -> str:
        return str(self.config.get("recipe", "paper"))


def run_job(config: GeneratorConfig | ClassifierConfig | GlicoConfig) -> Job:
    """One run as a job of its own (for its cost estimate)."""
    kind = kind_of(config)
    resolved: GeneratorConfig | ClassifierConfig | GlicoConfig = kind.resolve(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = _steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    pool_mixes = _pool_mixes(resolved) if isinstance(resolved, ClassifierConfig) else 0
    return Job(id=kind.name, kind=kind.name, config=_json_ready(to_dict(config)), steps=steps, pool_mixes=pool_mixes)


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
    unknown = sorted(set(values) - SWEEP_FILE_KEYS)
    if unknown:
        raise ChimeraMixError(
            f"sweep file {path} has unknown keys {unknown}; use only {', '.join(sorted(SWEEP_FILE_KEYS))}"
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
        generator=_overrides(values.get("generator") or {}, GeneratorConfig),
        classifier=_overrides(values.get("classifier") or {}, ClassifierConfig),
        glico=_overrides(values.get("glico") or {}, GlicoConfig),
        generator_axes=_axes(values.get("generator_axes") or {}),
        budget=_budget(values.get("budget")),
    )


def check_overrides(values: dict[str, Any], cls: type) -> None:
    """Raise a clear error for override keys that are not settable fields of ``cls`` (nested as the config,
    e.g. ``masks: {grid_cells: 2}``); the fields a sweep sets itself are not."""
    set_by_sweep = fields_with_role(cls, SWEEP)
    allowed = leaf_fields(cls) - set_by_sweep
    unknown = sorted(set(flatten(values)) - allowed)
    if unknown:
        raise ChimeraMixError(
            f"unknown {cls.__name__} override keys {unknown}; use fields of that config (nested fields as "
            f"mappings, e.g. masks: {{grid_cells: 2}}) except those a sweep sets: {', '.join(sorted(set_by_sweep))}"
        )


def plan_sweep(spec: SweepSpec, book: CostBook | None = None, kept: dict[str, BudgetConfig] | None = None
               ) -> list[Job]:
    """All jobs of ``spec``: shared generator jobs (and SuperMix's teachers: the split's baseline job, listed
    once) first, then classifier jobs, in grid order. A budgeted sweep plans every (dataset, k, method) from
    this machine's costs (``book``), or keeps the plan of ``kept`` (:func:`~chimeramix.experiments.budget
    .kept_budgets` of its store)."""
    check_overrides(spec.generator, GeneratorConfig)
    check_overrides(spec.classifier, ClassifierConfig)
    check_overrides(spec.glico, GlicoConfig)
    check_axes(spec.generator_axes, spec.generator)
    if spec.budget is not None:
        check_budget_overrides(spec.classifier, spec.generator)
    if not (spec.datasets and spec.methods and spec.ks and spec.seeds):
        raise ChimeraMixError("a sweep needs at least one dataset, method, k and seed; add the missing axis")
    if spec.recipe not in RECIPES:
        raise ChimeraMixError(f"unknown recipe {spec.recipe!r}; use one of {', '.join(RECIPES)}")
    methods = list({parse_method(name).name: parse_method(name) for name in spec.methods}.values())
    generators: dict[str, Job] = {}
    classifiers: list[Job] = []
    for dataset in spec.datasets:
        for k in spec.ks:
            if k < 1:
                raise ChimeraMixError(f"k must be at least 1, got {k}; use e.g. --k 5,10,20")
            for seed in spec.seeds:
                data = resolve_data(from_dict(DataConfig, {**spec.data, "dataset": dataset, "k": k, "seed": seed}))
                for method in methods:
                    if method.first_run == "generator":
                        for setting in generator_settings(spec.generator_axes, method.generator_masks.kind):
                            classifier = _classifier_config(spec, data, method, setting, book, kept or {})
                            job = _generator_job(spec, classifier, setting)
                            generators.setdefault(job.id, job)
                            classifiers.append(_classifier_job(spec, classifier, job, setting))
                        continue
                    first = None
                    if method.first_run == "glico":
                        first = _glico_job(spec, data)
                    elif method.first_run == "teacher":  # the split's baseline job, shared with a baseline row
                        base = _classifier_config(spec, data, parse_method("baseline"), None, book, kept or {})
                        first = _classifier_job(spec, base)
                    if first is not None:
                        generators.setdefault(first.id, first)
                    classifier = _classifier_config(spec, data, method, None, book, kept or {})
                    classifiers.append(_classifier_job(spec, classifier, first))
    return list({job.id: job for job in [*generators.values(), *classifiers]}.values())


def _classifier_config(spec: SweepSpec, data: DataConfig, method: Method, setting: GeneratorSetting | None,
                       book: CostBook | None, kept: dict[str, BudgetConfig]) -> ClassifierConfig:
    """A classifier job's config: the preset and the sweep's overrides; under a budget, planned from this
    machine's costs (``book``), or with the plan the store kept for its jobs (:func:`plan_key` of its id)."""
    config = with_overrides(apply_preset(ClassifierConfig(data=data, method=method.name, recipe=spec.recipe),
                                         spec.preset), spec.classifier)
    if spec.budget is None:
        return config
    budget = kept.get(plan_key(_classifier_id(spec, data, method, setting), data.k, data.seed))
    if budget is not None:
        return apply_budget(config, budget)
    if book is None:
        raise ValueError("planning a sweep with a budget needs this machine's costs")
    return plan_budget(config, spec.budget, book)


def _generator_job(spec: SweepSpec, classifier: ClassifierConfig, setting: GeneratorSetting) -> Job:
    """The generator job of a ChimeraMix classifier config (shared by the methods that need the same one)."""
    data, masks = classifier.data, parse_method(classifier.method).generator_masks
    base = classifier if spec.budget is not None else ClassifierConfig(data=data, method=classifier.method,
                                                                         recipe=spec.recipe, preset=spec.preset)
    generator = first_run_config(base)
    assert isinstance(generator, GeneratorConfig)
    config = with_overrides(generator, merge(spec.generator, setting.overrides()))
    resolved = resolve_generator(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = _steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    name = (f"gen-{dataset_slug(data)}-k{data.k}-s{data.seed}-{masks.label}{_part(setting)}-"
            f"{_suffix(spec, spec.generator)}")
    return Job(id=name, kind="generator", config=_json_ready(to_dict(config)), steps=steps)


def _glico_job(spec: SweepSpec, data: DataConfig) -> Job:
    """The GLICO stage-1 job of a split (shared by the GLICO methods)."""
    glico = first_run_config(ClassifierConfig(data=data, method="glico", preset=spec.preset))
    assert isinstance(glico, GlicoConfig)
    config = with_overrides(glico, spec.glico)
    job = run_job(config)
    suffix = f"-{_hash(spec.glico)}" if spec.glico else ""
    name = f"glico-{dataset_slug(data)}-k{data.k}-s{data.seed}-{spec.preset}{suffix}"
    return replace(job, id=name)


def _classifier_job(spec: SweepSpec, config: ClassifierConfig, generator_job: Job | None = None,
                    setting: GeneratorSetting | None = None) -> Job:
    data, method = config.data, parse_method(config.method).name
    resolved = resolve_classifier(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = _steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    depends_on = generator_job.id if generator_job is not None else None
    return Job(id=_classifier_id(spec, data, parse_method(method), setting), kind="classifier",
               config=_json_ready(to_dict(config)), depends_on=depends_on, steps=steps,
               pool_mixes=_pool_mixes(resolved))


def _classifier_id(spec: SweepSpec, data: DataConfig, method: Method, setting: GeneratorSetting | None) -> str:
    """``cls-<dataset>-k<k>-s<seed>-<method>[-<setting>]-<preset>[-<recipe>][-<hash of the overrides>]``; the
    overrides hashed are the classifier's and those of the first stage it needs (generator, GLICO)."""
    overrides = dict(spec.classifier)
    if method.first_run == "generator" and spec.generator:
        overrides["generator"] = spec.generator
    if method.first_run == "glico" and spec.glico:
        overrides["glico"] = spec.glico
    return f"cls-{dataset_slug(data)}-k{data.k}-s{data.seed}-{method.name}{_part(setting)}-{_suffix(spec, overrides)}"


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as they read back from plan.json (tuples become lists), so that plans compare equal."""
    ready: dict[str, Any] = json.loads(json.dumps(values))
    return ready


def _steps(data: DataConfig, epochs: int, batch_size: int, repetition_base: int) -> int:
    """``epochs * ceil(k * C * max(R // k, 1) / batch)``: the protocol's optimizer steps of one run."""
    repeats = repetition_factor(data.k, repetition_base)
    return epochs * steps_per_epoch(data.k * num_classes(data.dataset), repeats, batch_size)


def _pool_mixes(resolved: ClassifierConfig) -> int:
    """The mixes of a resolved SuperMix student's pool (0 without one)."""
    per_image = resolved.supermix.pool_per_image if resolved.supermix is not None else 0
    return per_image * resolved.data.k * num_classes(resolved.data.dataset) if per_image else 0


def dataset_slug(data: DataConfig) -> str:
    """A dataset in job ids and run-folder names: a built-in one by name; a folder by its base name, ``cvN``
    when cross-validating, and 6 hex digits of a hash of its path, content fingerprint and folder options
    (``folder-photos-3fa2c1``), so that a changed folder gets new runs."""
    if not data.dataset.startswith(FOLDER_PREFIX):
        return data.dataset
    folder = data.dataset.removeprefix(FOLDER_PREFIX).rstrip("/")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(folder).name) or "root"
    folds = f"-cv{data.folder_folds}" if data.folder_folds else ""
    options = {"path": folder, "fingerprint": data.fingerprint, "image_size": data.folder_image_size,
               "test_fraction": data.folder_test_fraction, "folds": data.folder_folds,
               "skip_unreadable": data.skip_unreadable}
    return f"folder-{name}{folds}-{_hash(options)}"


def _suffix(spec: SweepSpec, overrides: dict[str, Any]) -> str:
    """``<preset>[-<recipe>][-<hash of the overrides>]``."""
    recipe = "" if spec.recipe == "paper" else f"-{spec.recipe}"
    return f"{spec.preset}{recipe}" + (f"-{_hash(overrides)}" if overrides else "")


def _part(setting: GeneratorSetting | None) -> str:
    """``-g8`` for a generator setting other than the default, else nothing."""
    part = setting.id_part() if setting is not None else ""
    return f"-{part}" if part else ""


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]


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
