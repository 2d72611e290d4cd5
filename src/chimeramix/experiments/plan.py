"""Sweep planning: a grid of (dataset, method, k, seed) (:class:`~chimeramix.experiments.spec.SweepSpec`) becomes
generator and classifier jobs (:class:`~chimeramix.experiments.jobs.Job`).

Method names are parsed by :func:`chimeramix.components.registry.parse_method` (so ``trivialaugment+chimeramix-seg`` and
``chimeramix-seg+trivialaugment`` are one job). A classifier job with a ``chimeramix-*`` method depends on a
generator job (a method that mixes under a teacher on the baseline job of its split, one whose component
declares its own kind of first run on that run's job).
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
from dataclasses import replace
from pathlib import Path
from typing import Any

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
from chimeramix.experiments.axes import GeneratorSetting, check_axes, generator_settings
from chimeramix.experiments.budget import apply_budget, check_budget_overrides, plan_budget, plan_key
from chimeramix.experiments.costs import CostBook
from chimeramix.experiments.jobs import Job, json_ready, pool_mixes, protocol_steps, run_job
from chimeramix.experiments.spec import SweepSpec, check_overrides
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.protocol import FOLDER_PREFIX, RECIPES
from chimeramix.resolution import apply_preset, first_run_config, resolve_classifier, resolve_data
from chimeramix.runkinds import run_kind


def plan_sweep(spec: SweepSpec, book: CostBook | None = None, kept: dict[str, BudgetConfig] | None = None
               ) -> list[Job]:
    """All jobs of ``spec``: shared generator jobs (and teachers: the split's baseline job, listed
    once) first, then classifier jobs, in grid order. A budgeted sweep plans every (dataset, k, method) from
    this machine's costs (``book``), or keeps the plan of ``kept`` (:func:`~chimeramix.experiments.budget
    .kept_budgets` of its store)."""
    check_overrides(spec.classifier, ClassifierConfig)
    for name, overrides in spec.first_runs.items():
        check_overrides(overrides, run_kind(name).config)
    generator = spec.first_runs.get(GeneratorConfig.KIND, {})
    check_axes(spec.generator_axes, generator)
    if spec.budget is not None:
        check_budget_overrides(spec.classifier, generator)
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
                    if method.first_run == "teacher":  # the split's baseline job, shared with a baseline row
                        base = _classifier_config(spec, data, parse_method("baseline"), None, book, kept or {})
                        first = _classifier_job(spec, base)
                    elif method.first_run is not None:
                        first = _declared_first_job(spec, data, method)
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
    overrides = spec.first_runs.get(GeneratorConfig.KIND, {})
    config = with_overrides(generator, merge(overrides, setting.overrides()))
    resolved = resolve_generator(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = protocol_steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    name = (f"gen-{dataset_slug(data)}-k{data.k}-s{data.seed}-{masks.label}{_part(setting)}-"
            f"{_suffix(spec, overrides)}")
    return Job(id=name, kind="generator", config=json_ready(to_dict(config)), steps=steps)


def _declared_first_job(spec: SweepSpec, data: DataConfig, method: Method) -> Job:
    """The job of the first run of a kind a component of ``method`` declares, one per split (shared by the methods
    that need it): ``<kind>-<dataset>-k<k>-s<seed>-<preset>[-<hash of the sweep's overrides of it>]``."""
    assert method.first_run is not None
    overrides = spec.first_runs.get(method.first_run, {})
    first = first_run_config(ClassifierConfig(data=data, method=method.name, preset=spec.preset))
    suffix = f"-{_hash(overrides)}" if overrides else ""
    name = f"{method.first_run}-{dataset_slug(data)}-k{data.k}-s{data.seed}-{spec.preset}{suffix}"
    return replace(run_job(with_overrides(first, overrides)), id=name)


def _classifier_job(spec: SweepSpec, config: ClassifierConfig, generator_job: Job | None = None,
                    setting: GeneratorSetting | None = None) -> Job:
    data, method = config.data, parse_method(config.method).name
    resolved = resolve_classifier(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = protocol_steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    depends_on = generator_job.id if generator_job is not None else None
    return Job(id=_classifier_id(spec, data, parse_method(method), setting), kind="classifier",
               config=json_ready(to_dict(config)), depends_on=depends_on, steps=steps,
               pool_mixes=pool_mixes(resolved))


def _classifier_id(spec: SweepSpec, data: DataConfig, method: Method, setting: GeneratorSetting | None) -> str:
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


def _part(setting: GeneratorSetting | None) -> str:
    """``-g8`` for a generator setting other than the default, else nothing."""
    part = setting.id_part() if setting is not None else ""
    return f"-{part}" if part else ""


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]
