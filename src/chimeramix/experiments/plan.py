"""Sweep planning: a grid of (dataset, method, k, seed) (:class:`~chimeramix.experiments.spec.SweepSpec`) becomes
the jobs of the runs the methods need first and classifier jobs (:class:`~chimeramix.experiments.jobs.Job`).

Method names are parsed by :func:`chimeramix.components.registry.parse_method` (so ``trivialaugment+chimeramix-seg`` and
``chimeramix-seg+trivialaugment`` are one job). A classifier job depends on the job of the run its method needs
first: a run of the kind a component declares (ChimeraMix's generator, say, or a plug-in's), or the
baseline job of its split for a method that mixes under a teacher. First-run jobs are shared: every method that
needs the same run (same dataset, k, seed, the kind's variant such as the generator's masks, preset, recipe and
overrides) uses one. Job ids are readable (``gen-cifar10-k10-s0-grid-quick``,
``cls-cifar10-k10-s0-baseline-quick``), with ``-released`` for the released recipe (where the kind has recipes)
and a short hash of the overrides appended when there are any. Settings of a first run can be axes of the grid
too, where its kind declares them (:mod:`chimeramix.experiments.axes`; ChimeraMix's generator: residual blocks,
relative mixing point, grid cells); such a method then gets a first-run and a classifier job per setting, named
by the setting where it differs from the default (``gen-cifar10-k10-s0-grid-g8-quick``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from chimeramix.components.hooks import AxisSetting, RunKind
from chimeramix.components.registry import Method, parse_method
from chimeramix.config import (
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    from_dict,
    merge,
    to_dict,
    with_overrides,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import check_axes, settings_of_method
from chimeramix.experiments.budget import apply_budget, check_budget_overrides, plan_budget, plan_key
from chimeramix.experiments.costs import CostBook
from chimeramix.experiments.jobs import Job, json_ready, pool_mixes, protocol_steps, run_job
from chimeramix.experiments.spec import SweepSpec, check_overrides
from chimeramix.protocol import FOLDER_PREFIX, RECIPES
from chimeramix.resolution import apply_preset, first_run_config, resolve_classifier, resolve_data
from chimeramix.runkinds import run_kind


def plan_sweep(spec: SweepSpec, book: CostBook | None = None, kept: dict[str, BudgetConfig] | None = None
               ) -> list[Job]:
    """All jobs of ``spec``: the shared jobs of first runs (teachers: the split's baseline job, listed once) first,
    then classifier jobs, in grid order. A budgeted sweep plans every (dataset, k, method) from
    this machine's costs (``book``), or keeps the plan of ``kept`` (:func:`~chimeramix.experiments.budget
    .kept_budgets` of its store)."""
    check_overrides(spec.classifier, ClassifierConfig)
    for name, overrides in spec.first_runs.items():
        check_overrides(overrides, run_kind(name).config)
    check_axes(spec.generator_axes, spec.first_runs)
    if spec.budget is not None:
        check_budget_overrides(spec.classifier, spec.first_runs)
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
                    for setting in settings_of_method(spec.generator_axes, method):
                        classifier = _classifier_config(spec, data, method, setting, book, kept or {})
                        first = _first_job(spec, classifier, method, setting, book, kept or {})
                        if first is not None:
                            generators.setdefault(first.id, first)
                        classifiers.append(_classifier_job(spec, classifier, first, setting))
    return list({job.id: job for job in [*generators.values(), *classifiers]}.values())


def _classifier_config(spec: SweepSpec, data: DataConfig, method: Method, setting: AxisSetting | None,
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


def _first_job(spec: SweepSpec, classifier: ClassifierConfig, method: Method, setting: AxisSetting | None,
               book: CostBook | None, kept: dict[str, BudgetConfig]) -> Job | None:
    """The job of the run ``classifier``'s method needs first, shared by the methods that need the same one: the
    split's baseline job for a teacher (shared with a baseline row), or a run of the kind a component declares
    (:func:`_first_job_id`: one per split, setting and the sweep's overrides of it; under a budget, the budget's
    first run)."""
    if method.first_run is None:
        return None
    if method.first_run == "teacher":
        return _classifier_job(spec, _classifier_config(spec, classifier.data, parse_method("baseline"), None, book,
                                                        kept))
    kind = run_kind(method.first_run)
    overrides = spec.first_runs.get(kind.name, {})
    base = classifier if spec.budget is not None else ClassifierConfig(data=classifier.data, method=method.name,
                                                                         recipe=spec.recipe, preset=spec.preset)
    config = with_overrides(first_run_config(base), merge(overrides, setting.overrides() if setting else {}))
    return replace(run_job(config), id=_first_job_id(spec, kind, classifier, config, setting, overrides))


def _first_job_id(spec: SweepSpec, kind: RunKind, classifier: ClassifierConfig, config: Any,
                  setting: AxisSetting | None, overrides: dict[str, Any]) -> str:
    """``<prefix>-<dataset>-k<k>-s<seed>[-<variant>][-<setting>]-<preset>[-<recipe>][-<hash of the overrides>]``:
    the kind's job prefix and variant (:attr:`RunKind.job_prefix`, :attr:`RunKind.job_variant`; ChimeraMix's
    generator: ``gen``, its masks), the recipe where the kind's config has one."""
    data = classifier.data
    variant = f"-{kind.job_variant(classifier)}" if kind.job_variant is not None else ""
    recipe = getattr(config, "recipe", "paper")
    suffix = spec.preset + ("" if recipe == "paper" else f"-{recipe}") + (f"-{_hash(overrides)}" if overrides else "")
    split = f"{dataset_slug(data)}-k{data.k}-s{data.seed}"
    return f"{kind.job_prefix or kind.name}-{split}{variant}{_part(setting)}-{suffix}"


def _classifier_job(spec: SweepSpec, config: ClassifierConfig, generator_job: Job | None = None,
                    setting: AxisSetting | None = None) -> Job:
    data, method = config.data, parse_method(config.method).name
    resolved = resolve_classifier(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = protocol_steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    depends_on = generator_job.id if generator_job is not None else None
    return Job(id=_classifier_id(spec, data, parse_method(method), setting), kind="classifier",
               config=json_ready(to_dict(config)), depends_on=depends_on, steps=steps,
               pool_mixes=pool_mixes(resolved))


def _classifier_id(spec: SweepSpec, data: DataConfig, method: Method, setting: AxisSetting | None) -> str:
    """``cls-<dataset>-k<k>-s<seed>-<method>[-<setting>]-<preset>[-<recipe>][-<hash of the overrides>]``; the
    overrides hashed are the classifier's and those of the first run it needs (a generator, a component's kind)."""
    overrides = dict(spec.classifier)
    if method.first_run is not None and spec.first_runs.get(method.first_run):
        overrides[method.first_run] = spec.first_runs[method.first_run]
    return f"cls-{dataset_slug(data)}-k{data.k}-s{data.seed}-{method.name}{_part(setting)}-{_suffix(spec, overrides)}"


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


def _part(setting: AxisSetting | None) -> str:
    """``-g8`` for a setting of the first run's axes other than the default, else nothing."""
    part = setting.id_part() if setting is not None else ""
    return f"-{part}" if part else ""


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]
