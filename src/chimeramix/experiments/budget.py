"""Planning a job to finish within a time budget on this machine (``--budget MINUTES`` of ``run``, ``compare``
and ``sweep``, per job).

:func:`plan_budget` turns a classifier config into a budgeted one: the scaling path's networks
(:mod:`chimeramix.budget`), then the seconds per step and the fixed seconds of the job's runs from this
machine's costs (:class:`~chimeramix.experiments.costs.CostBook`), then the steps: the generator a method needs
gets its share of the budget, the classifier the rest. :func:`measure_missing` first measures, by short trial
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

from chimeramix.budget import CLASSIFIER_FIELDS, GENERATOR_FIELDS, budget_preset, classifier_values, rung_for
from chimeramix.components.registry import parse_method
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
from chimeramix.methods.chimeramix.settings import GeneratorConfig, generator_config_for
from chimeramix.protocol import repetition_factor, steps_per_epoch
from chimeramix.resolution import num_classes, protocol_for, resolve_data
from chimeramix.runkinds import run_kind

MIN_CLASSIFIER_STEPS = 100
MIN_GENERATOR_STEPS = 20
TRIAL_STEPS = {"generator": 15, "classifier": 60}
"""Steps per epoch of a trial run (two epochs, the second timed by the run's own log)."""


def plan_budget(config: ClassifierConfig, minutes: float, book: CostBook) -> ClassifierConfig:
    """``config`` planned to finish within ``minutes`` on the machine whose costs ``book`` holds (see the module
    docstring); its ``budget`` records the plan, :func:`budget_configs` gives its runs."""
    draft = budget_draft(config, minutes)
    generator, classifier = budget_configs(draft)
    generator_key = cost_key("generator", to_dict(generator)) if generator else None
    classifier_key = cost_key("classifier", to_dict(classifier))
    generator_s = book.step_seconds(generator_key) if generator_key else 0.0
    classifier_s = book.step_seconds(classifier_key)
    generator_fixed = book.overhead(generator_key) if generator_key else 0.0
    fixed = generator_fixed + book.overhead(classifier_key)
    total, share = 60.0 * minutes, rung_for(minutes).generator_share
    generator_steps = math.floor(max(0.0, share * total - generator_fixed) / generator_s) if generator_key else 0
    classifier_steps = math.floor((total - fixed - generator_steps * generator_s) / classifier_s)
    if classifier_steps < MIN_CLASSIFIER_STEPS or (generator_key and generator_steps < MIN_GENERATOR_STEPS):
        generator_need = generator_fixed + MIN_GENERATOR_STEPS * generator_s if generator_key else 0.0
        need = max(fixed + MIN_CLASSIFIER_STEPS * classifier_s + generator_need, generator_need / share if share else 0)
        raise ChimeraMixError(f"a budget of {minutes:g} min leaves {classifier_steps} classifier steps"
                              + (f" and {generator_steps} generator steps" if generator_key else "")
                              + f" of {draft.method} on this machine; give at least --budget {math.ceil(need / 60)}")
    sources = sorted({f"{kind} {book.source(key)}" for kind, key in (("generator", generator_key),
                                                                      ("classifier", classifier_key)) if key})
    budget = BudgetConfig(minutes, generator_steps, classifier_steps, generator_s, classifier_s, round(fixed, 1),
                          costs=f"{', '.join(sources)} ({book.machine()})")
    generator, classifier = budget_configs(replace(draft, budget=budget))
    seconds = fixed + run_steps(classifier) * classifier_s + (run_steps(generator) * generator_s if generator else 0)
    return apply_budget(config, replace(budget, planned_s=round(seconds, 1)))


def apply_budget(config: ClassifierConfig, budget: BudgetConfig) -> ClassifierConfig:
    """``config`` under a plan made before (kept in a run folder or a store): the same networks and steps."""
    return budget_configs(replace(budget_draft(config, budget.minutes), budget=budget))[1]


def check_budget_overrides(classifier: dict[str, Any], first_runs: dict[str, dict[str, Any]]) -> None:
    """Refuse overrides of the fields a budget decides (the classifier's, the generator's), naming them."""
    clashes = [f"classifier {name}" for name in CLASSIFIER_FIELDS if name in classifier]
    clashes += [f"generator {name}" for name in GENERATOR_FIELDS if name in first_runs.get(GeneratorConfig.KIND, {})]
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
    their folders are those of the plan. Methods whose first run is a teacher or a component's own kind are
    refused."""
    method = parse_method(config.method)
    if method.first_run not in (None, "generator"):
        raise ChimeraMixError(f"--budget plans methods whose first stage is a ChimeraMix generator or nothing; "
                              f"{method.name} needs {_first_run_words(method.first_run)}: "
                              "train it with --preset quick or --preset paper")
    return replace(config, method=method.name, data=resolve_data(config.data), preset=budget_preset(minutes),
                   budget=BudgetConfig(minutes, generator_steps=int(method.needs_generator), classifier_steps=1))


def _first_run_words(kind: str) -> str:
    """The run a method needs first, in a message: ``a teacher``, or the title of a component's kind."""
    if kind == "teacher":
        return "a teacher"
    composing = run_kind(kind).composing
    return composing.title if composing is not None else f"a {kind} run"


def budget_configs(config: ClassifierConfig) -> tuple[GeneratorConfig | None, ClassifierConfig]:
    """The generator config (``None`` for methods without one) and the classifier config of a budgeted
    classifier config: the budget's networks, epochs and repetition (:mod:`chimeramix.budget`)."""
    if config.budget is None:
        raise ValueError("budget_configs needs a config with a budget")
    method = parse_method(config.method)
    data = resolve_data(config.data)
    images = data.k * num_classes(data.dataset)
    batch_size = config.batch_size or protocol_for(data).classifier_batch_size
    classifier = replace(config, data=data, **classifier_values(config.budget, method.front_end_network, images, data.k,
                                                                batch_size))
    generator = generator_config_for(classifier) if method.needs_generator else None
    return generator, classifier


def run_steps(config: GeneratorConfig | ClassifierConfig) -> int:
    """The optimizer steps of a run config (epochs times the steps of one epoch)."""
    data = resolve_data(config.data)
    batch = config.batch_size or (protocol_for(data).generator_batch_size if isinstance(config, GeneratorConfig)
                                  else protocol_for(data).classifier_batch_size)
    repeats = repetition_factor(data.k, int(config.repetition or 1))
    return config.epochs * steps_per_epoch(data.k * num_classes(data.dataset), repeats, batch)


def describe_plan(config: ClassifierConfig) -> str:
    """The plan of a budgeted classifier config in one paragraph (what the commands print before they start)."""
    budget = config.budget
    if budget is None:
        raise ValueError("describe_plan needs a config with a budget")
    generator, classifier = budget_configs(config)
    lines = [f"plan for {parse_method(config.method).name} within {budget.minutes:g} min per job "
             f"(costs: {budget.costs}):"]
    if generator is not None:
        steps = run_steps(generator)
        lines.append(f"  generator {steps:,} steps ({generator.working_size} px, {generator.base_channels} channels, "
                     f"batch {generator.batch_size}, lr {generator.lr:g}; {budget.generator_step_s:.3f} s/step: "
                     f"{steps * budget.generator_step_s / 60:.1f} min)")
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
    generator, classifier = budget_configs(budget_draft(config, minutes))
    todo = [(kind, run) for kind, run in (("generator", generator), ("classifier", classifier))
            if run is not None and cost_key(kind, to_dict(run)) not in book.measured]
    if not todo:
        return False
    from chimeramix.train.trainers import train_pack  # imports torch: only when measuring

    print(f"measuring {' and '.join(kind for kind, _ in todo)} steps on this machine first (a trial of "
          "a few dozen steps each) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="chimeramix-trial-") as folder, _threads(book.threads):
        trial_generator: Path | None = None
        for kind, run in (("generator", generator), ("classifier", classifier)):
            if run is None:
                continue
            key = cost_key(kind, to_dict(run))
            trial = _trial_config(run, kind)
            if isinstance(trial, ClassifierConfig) and trial_generator is not None:
                trial = replace(trial, generator=str(trial_generator))
            run_dir = Path(folder) / kind
            started = time.perf_counter()
            result = train_pack([trial], [run_dir], progress=False)[0]
            cost = record_cost(key, result, time.perf_counter() - started)
            if cost is not None:
                book.measured[key] = cost
            trial_generator = run_dir if kind == "generator" else trial_generator
    return True


def _trial_config(run: Any, kind: str) -> Any:
    """A two-epoch run of ``run``'s networks and data of about :data:`TRIAL_STEPS` steps per epoch."""
    data = resolve_data(run.data)
    images = data.k * num_classes(data.dataset)
    batch = run.batch_size or (protocol_for(data).generator_batch_size if kind == "generator"
                               else protocol_for(data).classifier_batch_size)
    repeats = max(1, round(TRIAL_STEPS[kind] * batch / images))
    values: dict[str, Any] = {"epochs": 2, "repetition": repeats * data.k, "checkpoint_every": 2}
    if kind == "classifier":
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
