"""Planning a job to finish within a time budget on this machine (``--budget MINUTES`` of ``run``, ``compare``
and ``sweep``, per job).

:func:`plan_budget` turns a classifier config into a budgeted one: the scaling path's networks
(:mod:`chimeramix.budget`), then the seconds per step and the fixed seconds of the job's runs from this
machine's costs (:class:`~chimeramix.experiments.costs.CostBook`), then the steps: the generating first run a
method needs (ChimeraMix's generator; a kind that declares how a budget plans it, ``RunKind.budget``) gets its share
of the budget, the classifier the rest. :func:`measure_missing` first measures, by short trial
runs on the real data, the costs this machine has not measured yet. The plan is recorded in both run configs
(:class:`~chimeramix.config.BudgetConfig`) and printed by :func:`describe_plan`; a run that started under a plan
keeps it (``run`` reads it from the run folder, ``sweep`` from the store), so a rerun resumes what it started.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from chimeramix.budget import CLASSIFIER_FIELDS, budget_preset, classifier_values, rung_for
from chimeramix.components.hooks import RunKind
from chimeramix.components.registry import Method, declared_run_kinds, parse_method
from chimeramix.config import (
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    from_dict,
    to_dict,
    with_overrides,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.costs import CostBook, cost_key, record_cost
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.spec import SweepSpec
from chimeramix.protocol import repetition_factor, steps_per_epoch
from chimeramix.resolution import first_run_config, num_classes, protocol_for, resolve_data
from chimeramix.runkinds import run_kind

MIN_CLASSIFIER_STEPS = 100
MIN_GENERATOR_STEPS = 20
"""The fewest steps of a method's first run (its generator) that a plan gives."""
TRIAL_STEPS = {"first": 15, "classifier": 60}
"""Steps per epoch of a trial run of the first run and of the classifier (two epochs, the second timed by the
run's own log)."""


def plan_budget(config: ClassifierConfig, minutes: float, book: CostBook) -> ClassifierConfig:
    """``config`` planned to finish within ``minutes`` on the machine whose costs ``book`` holds (see the module
    docstring); its ``budget`` records the plan, :func:`budget_configs` gives its runs."""
    draft = budget_draft(config, minutes)
    first, classifier = budget_configs(draft)
    keys = {"classifier": cost_key("classifier", to_dict(classifier))}
    if first is not None:
        keys[first.KIND] = cost_key(first.KIND, to_dict(first))
    first_key = keys.get(first.KIND) if first is not None else None
    first_s = book.step_seconds(first_key) if first_key else 0.0
    classifier_s = book.step_seconds(keys["classifier"])
    first_fixed = book.overhead(first_key) if first_key else 0.0
    fixed = first_fixed + book.overhead(keys["classifier"])
    total, share = 60.0 * minutes, rung_for(minutes).generator_share
    first_steps = math.floor(max(0.0, share * total - first_fixed) / first_s) if first_key else 0
    classifier_steps = math.floor((total - fixed - first_steps * first_s) / classifier_s)
    if classifier_steps < MIN_CLASSIFIER_STEPS or (first_key and first_steps < MIN_GENERATOR_STEPS):
        first_need = first_fixed + MIN_GENERATOR_STEPS * first_s if first_key else 0.0
        need = max(fixed + MIN_CLASSIFIER_STEPS * classifier_s + first_need, first_need / share if share else 0)
        raise ChimeraMixError(f"a budget of {minutes:g} min leaves {classifier_steps} classifier steps"
                              + (f" and {first_steps} {first.KIND} steps" if first_key else "")
                              + f" of {draft.method} on this machine; give at least --budget {math.ceil(need / 60)}")
    sources = sorted(f"{name} {book.source(key)}" for name, key in keys.items())
    budget = BudgetConfig(minutes, first_steps, classifier_steps, first_s, classifier_s, round(fixed, 1),
                          costs=f"{', '.join(sources)} ({book.machine()})")
    first, classifier = budget_configs(replace(draft, budget=budget))
    seconds = fixed + run_steps(classifier) * classifier_s + (run_steps(first) * first_s if first is not None else 0)
    return apply_budget(config, replace(budget, planned_s=round(seconds, 1)))


def apply_budget(config: ClassifierConfig, budget: BudgetConfig) -> ClassifierConfig:
    """``config`` under a plan made before (kept in a run folder or a store): the same networks and steps."""
    return budget_configs(replace(budget_draft(config, budget.minutes), budget=budget))[1]


def check_budget_overrides(classifier: dict[str, Any], first_runs: dict[str, dict[str, Any]]) -> None:
    """Refuse overrides of the fields a budget decides (the classifier's, its first runs'), naming them."""
    clashes = [f"classifier {name}" for name in CLASSIFIER_FIELDS if name in classifier]
    for kind_name, overrides in first_runs.items():
        budget = run_kind(kind_name).budget
        clashes += [f"{kind_name} {name}" for name in (budget.fields if budget else ()) if name in overrides]
    if clashes:
        raise ChimeraMixError(f"--budget decides {', '.join(clashes)}; drop those settings, or use --preset instead "
                              "of --budget")


def plan_key(job_id: str, k: int, seed: int) -> str:
    """A budgeted classifier job's id without its split seed: what one plan serves (every seed of a cell).

    >>> plan_key("cls-cifar10-k10-s3-baseline-20min", 10, 3)
    'cls-cifar10-k10-baseline-20min'
    """
    return job_id.replace(f"-k{k}-s{seed}-", f"-k{k}-", 1)


def kept_budgets(jobs: Iterable[Job]) -> dict[str, BudgetConfig]:
    """The plans of a store's budgeted classifier jobs, by :func:`plan_key`: a sweep rerun, or new seeds of
    it, keep the plan the store started with."""
    kept: dict[str, BudgetConfig] = {}
    for job in jobs:
        if job.kind == "classifier" and job.config.get("budget"):
            config = from_dict(ClassifierConfig, job.config)
            assert config.budget is not None
            kept.setdefault(plan_key(job.id, config.data.k, config.data.seed), config.budget)
    return kept


def budget_draft(config: ClassifierConfig, minutes: float) -> ClassifierConfig:
    """``config`` under the budget's preset with placeholder steps: its runs' networks (so their cost keys) and
    their folders are those of the plan. Methods whose first run is a teacher or of a kind that declares no budget
    (``RunKind.budget``) are refused."""
    method = parse_method(config.method)
    if method.first_run is not None and _first_kind(method) is None:
        planned = [kind.name for kind in declared_run_kinds().values() if kind.budget is not None]
        raise ChimeraMixError(f"--budget plans methods whose first stage is a {' or a '.join(planned) or 'nothing'} "
                              f"run or nothing; {method.name} needs {_first_run_words(method.first_run)}: "
                              "train it with --preset quick or --preset paper")
    return replace(config, method=method.name, data=resolve_data(config.data), preset=budget_preset(minutes),
                   budget=BudgetConfig(minutes, generator_steps=int(method.needs_generator), classifier_steps=1))


def _first_run_words(kind: str) -> str:
    """The run a method needs first, in a message: ``a teacher``, or the title of a component's kind."""
    if kind == "teacher":
        return "a teacher"
    composing = run_kind(kind).composing
    return composing.title if composing is not None else f"a {kind} run"


def _first_kind(method: Method) -> RunKind | None:
    """The kind of the first run of ``method`` when a budget plans it, else ``None``."""
    kind = declared_run_kinds().get(method.first_run or "")
    return kind if kind is not None and kind.budget is not None else None


def budget_configs(config: ClassifierConfig) -> tuple[Any, ClassifierConfig]:
    """The config of the first run a method needs (``None`` for methods without one) and the classifier config of
    a budgeted classifier config: the budget's networks, epochs and repetition (:mod:`chimeramix.budget`; the
    first run's, its kind's ``first_run_config``)."""
    if config.budget is None:
        raise ValueError("budget_configs needs a config with a budget")
    method = parse_method(config.method)
    data = resolve_data(config.data)
    images = data.k * num_classes(data.dataset)
    batch_size = config.batch_size or protocol_for(data).classifier_batch_size
    classifier = replace(config, data=data, **classifier_values(config.budget, method.front_end_network, images, data.k,
                                                                batch_size))
    first = first_run_config(classifier) if _first_kind(method) is not None else None
    return first, classifier


def run_steps(config: Any) -> int:
    """The optimizer steps of a run config (epochs times the steps of one epoch)."""
    data = resolve_data(config.data)
    repeats = repetition_factor(data.k, int(config.repetition or 1))
    return config.epochs * steps_per_epoch(data.k * num_classes(data.dataset), repeats, _batch_size(config))


def _batch_size(config: Any) -> int:
    """The batch size of a run config: the protocol's where unset (a first run's: as its kind resolves it)."""
    if config.batch_size:
        return int(config.batch_size)
    if isinstance(config, ClassifierConfig):
        return protocol_for(resolve_data(config.data)).classifier_batch_size
    return int(run_kind(config.KIND).resolve(config).batch_size)


def describe_plan(config: ClassifierConfig) -> str:
    """The plan of a budgeted classifier config in one paragraph (what the commands print before they start)."""
    budget = config.budget
    if budget is None:
        raise ValueError("describe_plan needs a config with a budget")
    first, classifier = budget_configs(config)
    method = parse_method(config.method)
    lines = [f"plan for {method.name} within {budget.minutes:g} min per job (costs: {budget.costs}):"]
    kind = _first_kind(method)
    if first is not None and kind is not None and kind.budget is not None:
        steps = run_steps(first)
        lines.append(f"  {kind.name} {steps:,} steps ({kind.budget.summary(first)}; "
                     f"{budget.generator_step_s:.3f} s/step: {steps * budget.generator_step_s / 60:.1f} min)")
    steps = run_steps(classifier)
    lines.append(f"  classifier {steps:,} steps ({classifier.architecture}, {classifier.epochs} epochs; "
                 f"{budget.classifier_step_s:.3f} s/step: {steps * budget.classifier_step_s / 60:.1f} min)")
    lines.append(f"  fixed costs {budget.fixed_s:.0f} s; planned {budget.planned_s / 60:.1f} min")
    return "\n".join(lines)


def measure_missing(config: ClassifierConfig, minutes: float, book: CostBook) -> bool:
    """Measure, by short trial runs on the real data, the step costs of the budgeted job of ``config`` that this
    machine has not measured yet (a first run on a new machine measures before it plans); they are cached
    (:func:`~chimeramix.experiments.costs.record_cost`) and added to ``book``; on a CPU the trials compute on the
    book's threads (a sweep worker's share of the cores). Returns whether it measured."""
    first, classifier = budget_configs(budget_draft(config, minutes))
    runs = [(first.KIND, first)] if first is not None else []
    runs.append(("classifier", classifier))
    todo = [(kind, run) for kind, run in runs if cost_key(kind, to_dict(run)) not in book.measured]
    if not todo:
        return False
    from chimeramix.train.trainers import train_pack  # imports torch: only when measuring

    print(f"measuring {' and '.join(kind for kind, _ in todo)} steps on this machine first (a trial of "
          "a few dozen steps each) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="chimeramix-trial-") as folder, _threads(book.threads):
        trial_first: Path | None = None
        for kind, run in runs:
            key = cost_key(kind, to_dict(run))
            trial = _trial_config(run)
            if isinstance(trial, ClassifierConfig) and trial_first is not None:
                trial = replace(trial, generator=str(trial_first))
            run_dir = Path(folder) / kind
            started = time.perf_counter()
            result = train_pack([trial], [run_dir], progress=False)[0]
            cost = record_cost(key, result, time.perf_counter() - started)
            if cost is not None:
                book.measured[key] = cost
            trial_first = run_dir if kind != "classifier" else trial_first
    return True


def _trial_config(run: Any) -> Any:
    """A two-epoch run of ``run``'s networks and data of about :data:`TRIAL_STEPS` steps per epoch."""
    data = resolve_data(run.data)
    images = data.k * num_classes(data.dataset)
    classifier = isinstance(run, ClassifierConfig)
    repeats = max(1, round(TRIAL_STEPS["classifier" if classifier else "first"] * _batch_size(run) / images))
    values: dict[str, Any] = {"epochs": 2, "repetition": repeats * data.k, "checkpoint_every": 2}
    if classifier:
        values["eval_every"] = 0
    return replace(run, data=data, **values)


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """Compute on ``threads`` threads (a worker's share of the cores) while trial runs time their steps."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_sweep_costs(spec: SweepSpec, book: CostBook) -> None:
    """Measure the costs that a budgeted sweep's plans need and this machine lacks (one trial per cost, see
    :func:`measure_missing`)."""
    assert spec.budget is not None
    for dataset in spec.datasets:
        for k in spec.ks:
            data = resolve_data(from_dict(DataConfig, {**spec.data, "dataset": dataset, "k": k, "seed": spec.seeds[0]}))
            for method in spec.methods:
                config = with_overrides(ClassifierConfig(data=data, method=method, recipe=spec.recipe), spec.classifier)
                measure_missing(config, spec.budget, book)


def describe_plans(jobs: Iterable[Job], kept: dict[str, BudgetConfig]) -> str:
    """Every distinct plan of a budgeted sweep's classifier jobs (one per dataset, k and method), saying which ones
    the store kept."""
    described: dict[str, str] = {}
    for job in jobs:
        if job.kind != "classifier" or not job.config.get("budget"):
            continue
        config = from_dict(ClassifierConfig, job.config)
        key = plan_key(job.id, config.data.k, config.data.seed)
        if key not in described:
            text = describe_plan(config)
            described[key] = (text.replace(":\n", " (kept from the store's first plan):\n", 1) if key in kept else text)
    return "\n".join(described.values())
