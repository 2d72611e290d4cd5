"""Tables rebuilt from a results store: methods x k, mean ± sample std over seeds (as text:
:mod:`chimeramix.experiments.table_text`; plotted: :mod:`chimeramix.experiments.plots`).

Every finished classifier job of the store's plan contributes one accuracy. Runs are averaged only when
they share a recipe (the config minus the seed and machine settings, plus the generator's recipe for
ChimeraMix methods); mixing presets or settings in one cell is an error, never a silent average.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

from chimeramix.components.hooks import AxisSetting
from chimeramix.components.registry import all_hooks
from chimeramix.config import (
    MACHINE,
    SPLIT,
    ClassifierConfig,
    differences,
    fields_with_role,
    from_dict,
    to_dict,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import setting_of_run
from chimeramix.experiments.paper import PaperValue, paper_value
from chimeramix.experiments.store import Store
from chimeramix.resolution import first_run_field
from chimeramix.runkinds import run_kind
from chimeramix.uncertainty import accuracy_interval


@cache
def not_recipe(cls: type) -> frozenset[str]:
    """Config fields of ``cls`` left out of a cell's recipe: those that do not change what a run measures, and
    those that differ between its splits (the seed, the generator's folder)."""
    return fields_with_role(cls, MACHINE) | fields_with_role(cls, SPLIT)


@dataclass(frozen=True)
class RunResult:
    """One finished classifier run of the store."""

    job_id: str
    dataset: str
    method: str
    k: int
    seed: int
    preset: str
    accuracy: float
    """Test accuracy in percent."""
    recipe: str
    """Canonical JSON of everything that must agree for runs to be averaged."""
    training_recipe: str = "paper"
    """``paper`` or ``released`` (``ClassifierConfig.recipe``)."""
    setting: AxisSetting | None = None
    """The setting of the sweep's axes of the first run the run used (``None``: no such run, or its kind has no
    axes)."""
    variant: str = ""
    """A mark of the classifier's own settings beyond its method and recipe (a component's ``table_variant``,
    e.g. ``random init``: a front end's random initialisation), so that such runs get rows of their own."""
    test_images: int = 0
    """The number of test images the accuracy was measured on (0: a result that does not say)."""
    fold: bool = False
    """Whether the run tested on one fold of a cross-validation (folds test on different images)."""

    @property
    def label(self) -> str:
        """The table row: the method, with its generator's settings where they differ from the default and
        the released recipe when it ran that."""
        return self.row_label()

    def row_label(self, without_axis: str | None = None) -> str:
        """:attr:`label`, leaving out the value of the generator axis ``without_axis``."""
        marks = [self.setting.label(without_axis) if self.setting is not None else "",
                 "" if self.training_recipe == "paper" else self.training_recipe, self.variant]
        shown = [mark for mark in marks if mark]
        return f"{self.method} [{'; '.join(shown)}]" if shown else self.method


@dataclass(frozen=True)
class Cell:
    """Mean and sample standard deviation (ddof=1; NaN for one run) of a method at one k, and the test images
    that measured it."""

    n: int
    mean: float
    std: float
    paper: PaperValue | None = None
    accuracies: tuple[float, ...] = ()
    """Each run's accuracy (percent)."""
    test_images: tuple[int, ...] = ()
    """Each run's number of test images (0: its result does not say)."""
    folds: bool = False
    """Whether the runs are the folds of a cross-validation (each tests on images of its own)."""
    preset: str = ""
    """The preset (or budget label) of the runs."""

    @property
    def outside_paper(self) -> bool:
        """Whether our mean lies outside the paper's mean ± 1 std."""
        return self.paper is not None and abs(self.mean - self.paper.mean) > self.paper.std

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval (percent) of the accuracy on the test images: over every image of the folds
        of a cross-validation (each tested once), else of the mean on the one test set the runs share; ``None``
        when a result does not say how many test images it had."""
        if not self.test_images or not all(self.test_images):
            return None
        if self.folds:
            correct = sum(accuracy / 100 * images for accuracy, images in zip(self.accuracies, self.test_images))
            low, high = accuracy_interval(correct / sum(self.test_images), sum(self.test_images))
        else:
            low, high = accuracy_interval(self.mean / 100, min(self.test_images))
        return 100 * low, 100 * high

    def images_text(self) -> str:
        """``90 test images over 3 folds`` or ``18 test images`` (per run)."""
        if not self.test_images or not all(self.test_images):
            return "test images not recorded"
        if self.folds:
            return f"{sum(self.test_images)} test images over {self.n} folds"
        low, high = min(self.test_images), max(self.test_images)
        return f"{low if low == high else f'{low}-{high}'} test images"

    def uncertainty_text(self) -> str:
        """``95 % interval 84.5-99.1 % on 90 test images over 3 folds`` (or only the images, when unknown)."""
        interval = self.interval
        if interval is None:
            return self.images_text()
        return f"95 % interval {interval[0]:.1f}-{interval[1]:.1f} % on {self.images_text()}"


@dataclass
class ResultTable:
    """One dataset's table: rows are methods, columns are k."""

    dataset: str
    methods: list[str]
    ks: list[int]
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)


def load_results(store: Store, *, preset: str | None = None, metric: str = "accuracy", required: bool = True
                 ) -> list[RunResult]:
    """The finished classifier runs of ``store`` (only those of ``preset`` when given); none is an error when
    ``required``.

    ``metric`` names a fraction in ``result.json``'s ``metrics`` (``accuracy``, or for cifar10
    ``accuracy_cifair10_kept``: the test images ciFAIR-10 keeps); tables show it in percent.
    """
    plan = store.load_plan()
    results = []
    for job in plan.values():
        if job.kind != "classifier" or not store.is_finished(job.id):
            continue
        result = store.result(job.id)
        run = _run_result(job.id, result, metric, store.result_path(job.id))
        if preset is not None and run.preset != preset:
            continue
        kind = plan[job.depends_on].kind if job.depends_on else None
        dependency = _dependency_recipe(store, job.depends_on, kind)
        recipe = json.dumps({"classifier": _recipe(result["config"], ClassifierConfig),
                             first_run_field(job.config["method"]) or "generator": dependency}, sort_keys=True)
        setting = setting_of_run(kind, dependency)
        results.append(replace(run, recipe=recipe, setting=setting))
    if not results and required:
        which = f" with preset {preset!r}" if preset else ""
        raise ChimeraMixError(
            f"store {store.root} has no finished classifier results{which} yet; run "
            f"`chimeramix sweep --store {store.root} ...` first"
        )
    return results


def _run_result(job_id: str, result: dict[str, Any], metric: str, path: os.PathLike[str]) -> RunResult:
    try:
        config = result["config"]
        run = RunResult(job_id=job_id, dataset=str(config["data"]["dataset"]), method=str(config["method"]),
                        k=int(config["data"]["k"]), seed=int(config["data"]["seed"]),
                        preset=str(config["preset"]), accuracy=math.nan, recipe="",
                        training_recipe=str(config.get("recipe", "paper")),
                        variant=settings_variant(config),
                        fold=bool(config["data"].get("folder_folds")))
        metrics = result["metrics"]
        fraction = float(metrics["accuracy"])
    except (KeyError, TypeError, ValueError):
        raise ChimeraMixError(
            f"result {path} lacks config.data/method/preset or metrics.accuracy, so an incompatible "
            "chimeramix version wrote it; delete its run folder and rerun the sweep with this version"
        ) from None
    if not 0.0 <= fraction <= 1.0:
        raise ChimeraMixError(f"result {path} has accuracy {fraction}, not a fraction in [0, 1], so an "
                              "incompatible chimeramix version wrote it; delete its run folder and rerun")
    if metric not in metrics:
        raise ChimeraMixError(f"result {path} has no metric {metric!r}; choose one of "
                              f"{', '.join(sorted(metrics))} with --metric")
    images = metrics.get("num_cifair10_kept" if metric == "accuracy_cifair10_kept" else "num_test_images", 0)
    return replace(run, accuracy=100.0 * float(metrics[metric]), test_images=int(images))


def settings_variant(config: dict[str, Any]) -> str:
    """The mark of a run's component settings that get rows of their own (the components' ``table_variant``)."""
    marks = [hooks.table_variant(config.get(hooks.section) or {}) for hooks in all_hooks().values()
             if hooks.table_variant is not None and hooks.section is not None]
    return ", ".join(mark for mark in marks if mark)


def _dependency_recipe(store: Store, job_id: str | None, kind: str | None) -> dict[str, Any] | None:
    """The recipe of the job a classifier depends on, of that kind of run; ``None`` without."""
    if job_id is None or kind is None:
        return None
    if not store.is_finished(job_id):
        raise ChimeraMixError(
            f"{kind} job {job_id} of a finished classifier run has no result.json (the store was "
            "edited by hand); rerun the sweep to rebuild it"
        )
    return _recipe(store.result(job_id)["config"], run_kind(kind).config)


def _recipe(values: dict[str, Any], cls: type, prefix: str = "") -> dict[str, Any]:
    """``values`` (a config dict, with the defaults of fields it lacks: a result written before a field
    existed) without the fields of :func:`not_recipe`."""
    if not prefix:
        values = json.loads(json.dumps(to_dict(from_dict(cls, values))))
    kept: dict[str, Any] = {}
    for key, value in values.items():
        name = prefix + key
        if isinstance(value, dict):
            kept[key] = _recipe(value, cls, f"{name}.")
        elif name not in not_recipe(cls):
            kept[key] = value
    return kept


def build_tables(results: Iterable[RunResult], *, compare_paper: bool = False) -> list[ResultTable]:
    """Aggregate runs into one table per dataset; refuse cells whose runs differ in preset or settings."""
    groups: dict[tuple[str, str, int], list[RunResult]] = {}
    for run in results:
        groups.setdefault((run.dataset, run.label, run.k), []).append(run)
    tables: dict[str, ResultTable] = {}
    for (dataset, method, k), runs in groups.items():
        table = tables.setdefault(dataset, ResultTable(dataset, [], []))
        if method not in table.methods:
            table.methods.append(method)
        if k not in table.ks:
            table.ks.append(k)
        paper = paper_value(dataset, runs[0].method, k) if compare_paper else None
        table.cells[method, k] = replace(aggregate(f"{dataset} / {method} / k={k}", runs), paper=paper)
    for table in tables.values():
        table.ks.sort()
    return list(tables.values())


def aggregate(where: str, runs: list[RunResult]) -> Cell:
    """The cell of the runs of one table cell (named ``where`` in errors): mean and sample std of their
    accuracies, and their test images; runs that differ in preset or recipe, or repeat a seed, are refused."""
    _check_cell(where, runs)
    values = np.array([run.accuracy for run in runs])
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return Cell(n=len(values), mean=float(values.mean()), std=std, accuracies=tuple(float(v) for v in values),
                test_images=tuple(run.test_images for run in runs), folds=all(run.fold for run in runs),
                preset=runs[0].preset)


def _check_cell(where: str, runs: list[RunResult]) -> None:
    """Runs of one cell must share preset and recipe, and have one run per seed."""
    presets = sorted({run.preset for run in runs})
    if len(presets) > 1:
        raise ChimeraMixError(
            f"refusing to average {where}: its runs mix the presets {', '.join(presets)}; pass --preset to "
            "pick one"
        )
    recipes = {run.recipe for run in runs}
    if len(recipes) > 1:
        first, second = (json.loads(recipe) for recipe in sorted(recipes)[:2])
        keys = ", ".join(differences(first, second)) or "unknown"
        raise ChimeraMixError(
            f"refusing to average {where}: its runs differ in {keys}; keep one setting per store or preset"
        )
    seeds = [run.seed for run in runs]
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        names = ", ".join(run.job_id for run in runs if run.seed == repeated[0])
        raise ChimeraMixError(
            f"refusing to average {where}: seed {repeated[0]} has several runs ({names}); delete the extra "
            "run folders from the store"
        )
