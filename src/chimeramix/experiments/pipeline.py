"""One experiment: the generator or teacher a method needs (trained, or reused from the output folder), then
the classifier (``chimeramix run``)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from chimeramix.bundle import bundle_folder
from chimeramix.components.registry import parse_method
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.experiments.budget import apply_budget, budget_draft, measure_missing, plan_budget
from chimeramix.experiments.costs import CostBook, cost_key, record_cost
from chimeramix.experiments.plan import dataset_slug
from chimeramix.resolution import first_run_config, resolve_data, with_first_run
from chimeramix.rundir import RunFolder
from chimeramix.runkinds import kind_of
from chimeramix.train.trainers import train_pack


def run_name(kind: str, data: DataConfig, variant: str, preset: str, recipe: str = "paper") -> str:
    """A run folder's name, e.g. ``classifier-cifar10-k10-seed0-baseline-quick`` (``-released`` appended for
    the released recipe; a folder dataset as :func:`~chimeramix.experiments.plan.dataset_slug` names it)."""
    dataset = dataset_slug(data)
    suffix = "" if recipe == "paper" else f"-{recipe}"
    return f"{kind}-{dataset}-k{data.k}-seed{data.seed}-{variant}-{preset}{suffix}"


def experiment_runs(config: ClassifierConfig, out_dir: str | os.PathLike[str]) -> list[tuple[Any, Path]]:
    """The runs of :func:`run_experiment` (their configs) and their folders: the run the method needs first (its
    generator, its teacher: the split's baseline run with the same settings, or a run of a kind its component
    declares), if any, then the classifier."""
    method = parse_method(config.method)
    config = replace(config, data=resolve_data(config.data))
    out_dir = Path(out_dir)
    runs: list[tuple[Any, Path]] = []
    first = first_run_config(config)
    if first is not None:
        first_dir = out_dir / run_name(first.KIND, config.data, kind_of(first).variant(first), config.preset,
                                       getattr(first, "recipe", "paper"))
        runs.append((first, first_dir))
        config = with_first_run(config, str(first_dir))
    runs.append((config, out_dir / run_name("classifier", config.data, method.name, config.preset, config.recipe)))
    return runs


def plan_experiment(config: ClassifierConfig, minutes: float, out_dir: str | os.PathLike[str],
                    book: CostBook | None = None) -> tuple[ClassifierConfig, bool]:
    """``config`` planned to finish within ``minutes`` on this machine (:func:`~chimeramix.experiments.budget
    .plan_budget`, after measuring what ``book``, by default this machine's cost cache, lacks), or with the plan its
    runs under ``out_dir`` started with; and whether the plan was kept. :func:`run_experiment` then trains it."""
    if book is None:
        from chimeramix.runtime import select_device  # imports torch: only when planning

        book = CostBook.of_this_machine(select_device(config.device).type)
    for run, folder in experiment_runs(budget_draft(config, minutes), out_dir):
        stored = RunFolder(folder)
        kept = getattr(stored.read_config(type(run)), "budget", None) if stored.config_file.is_file() else None
        if kept is not None:  # the runs of a budget's plan (a classifier, a generator) record it
            return apply_budget(config, kept), True
    measure_missing(config, minutes, book)
    return plan_budget(config, minutes, book), False


def run_experiment(
    config: ClassifierConfig, out_dir: str | os.PathLike[str], *, progress: bool = True
) -> dict[str, Any]:
    """Train the generator that ``config.method`` needs (or reuse/resume the matching one under ``out_dir``),
    then the classifier; both with ``config.preset`` and ``config.recipe``. Returns the classifier's result,
    whose ``run_dir`` key names its folder (``reused``: it had finished before; its model bundle is checked, and
    rebuilt if damaged). The cost of every run it trains is recorded for later estimates
    (:mod:`chimeramix.experiments.costs`)."""
    result: dict[str, Any] = {}
    for run_config, run_dir in experiment_runs(config, out_dir):
        started = time.perf_counter()
        result = train_pack([run_config], [run_dir], resume=True, progress=progress)[0]
        record_cost(cost_key(run_config.KIND, result["config"]), result, time.perf_counter() - started)
    if result.get("reused"):
        bundle_folder(run_dir)
    return {**result, "run_dir": str(run_dir)}

