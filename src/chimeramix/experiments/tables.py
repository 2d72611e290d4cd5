"""Tables and plots rebuilt from a results store: methods x k, mean ± sample std over seeds.

Every finished classifier job of the store's plan contributes one accuracy. Runs are averaged only when
they share a recipe (the config minus the seed and machine settings, plus the generator's recipe for
ChimeraMix methods); mixing presets or settings in one cell is an error, never a silent average.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from chimeramix.budget import budget_minutes
from chimeramix.config import (
    MACHINE,
    SPLIT,
    ClassifierConfig,
    GeneratorConfig,
    GlicoConfig,
    differences,
    fields_with_role,
    from_dict,
    to_dict,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import GeneratorSetting, setting_of
from chimeramix.experiments.paper import PaperValue, paper_value
from chimeramix.experiments.store import Store
from chimeramix.resolution import first_run_field
from chimeramix.runkinds import run_kind
from chimeramix.uncertainty import accuracy_interval

TableFormat = Literal["md", "csv", "latex"]

NOT_RECIPE: dict[type, frozenset[str]] = {cls: fields_with_role(cls, MACHINE) | fields_with_role(cls, SPLIT)
              for cls in (ClassifierConfig, GeneratorConfig, GlicoConfig)}
"""Config fields left out of a cell's recipe: those that do not change what a run measures, and those that
differ between its splits (the seed, the generator's folder)."""

FULL_SEEDS = 5
"""The protocol's number of splits; cells with fewer runs show their n."""


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
    setting: GeneratorSetting | None = None
    """The settings of the ChimeraMix generator the run used (``None``: no such generator)."""
    variant: str = ""
    """A mark of the classifier's own settings beyond its method and recipe (``random init``: the scattering
    front end's random initialisation), so that such runs get rows of their own."""
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
        setting = setting_of(dependency) if kind == "generator" and dependency is not None else None
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
                        variant="random init" if (config.get("scattering") or {}).get("init") == "random" else "",
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
    existed) without the fields of :data:`NOT_RECIPE`."""
    if not prefix:
        values = json.loads(json.dumps(to_dict(from_dict(cls, values))))
    kept: dict[str, Any] = {}
    for key, value in values.items():
        name = prefix + key
        if isinstance(value, dict):
            kept[key] = _recipe(value, cls, f"{name}.")
        elif name not in NOT_RECIPE[cls]:
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


# -------------------------------------------------------------------------------------------------- rendering

CIFAR_NOTE = ("cifar10 is compared with the paper's ciFAIR-10 column: same training images, but our test set "
              "is CIFAR-10's (ciFAIR-10 replaces 3.25 % of the test images by new ones).")
STD_NOTE = ("Cells: test accuracy (%), mean ± sample standard deviation (ddof=1) over seeds; n is shown when "
            "fewer than 5.")
PAPER_NOTE = ("paper: the paper's mean ± std (Tables 1-4); Δ = ours - paper; † marks ours outside "
              "the paper's mean ± 1 std.")


def render(tables: list[ResultTable], fmt: TableFormat, *, compare_paper: bool = False) -> str:
    """The tables as Markdown, CSV or LaTeX text."""
    if fmt == "csv":
        return _render_csv(tables, compare_paper)
    if fmt == "latex":
        return _render_latex(tables, compare_paper)
    return _render_markdown(tables, compare_paper)


def _notes(tables: list[ResultTable], compare_paper: bool) -> list[str]:
    notes = [STD_NOTE]
    for table in tables:
        images = sorted({cell.images_text() for cell in table.cells.values()})
        notes.append(f"{table.dataset}: {'; '.join(images)} per cell (per run unless over folds); runs of "
                     f"{' and '.join(preset_text(preset) for preset in table_presets(table))}.")
    if compare_paper:
        notes.append(PAPER_NOTE)
        if any(table.dataset == "cifar10" for table in tables):
            notes.append(CIFAR_NOTE)
    return notes


def table_presets(table: ResultTable) -> list[str]:
    """The presets (or budget labels) of a table's runs."""
    return sorted({cell.preset for cell in table.cells.values()})


def table_title(table: ResultTable, compare_paper: bool = False) -> str:
    """``cifar10 (ours: quick preset)``, with ``; paper: ...`` beside the paper's numbers."""
    ours = " and ".join(preset_label(preset) for preset in table_presets(table))
    return f"{table.dataset} (ours: {ours}" + ("; paper: its full protocol, 5 splits)" if compare_paper else ")")


def preset_label(preset: str) -> str:
    """``quick preset``, ``paper preset``, ``20min budget``."""
    return f"{preset} budget" if budget_minutes(preset) is not None else f"{preset} preset"


def preset_text(preset: str) -> str:
    """What runs of ``preset`` are, in a few words (tables say it beside the paper's numbers)."""
    minutes = budget_minutes(preset)
    if minutes is not None:
        return f"a budget of {minutes:g} min per job on the machine that ran them ({preset}), not the protocol"
    return {"paper": "the paper preset (the full protocol)",
            "quick": "the quick preset (CPU-sized: about 200 times fewer steps and a smaller network than the "
                     "protocol, so not comparable with the paper's numbers)"}.get(preset, f"the {preset} preset")


def cell_text(cell: Cell, *, unit: str = "") -> str:
    """``61.11 ± 4.81``, then ``unit``, then ``(n=3)`` when fewer than :data:`FULL_SEEDS` runs."""
    text = f"{cell.mean:.2f}" if math.isnan(cell.std) else f"{cell.mean:.2f} ± {cell.std:.2f}"
    return text + unit + (f" (n={cell.n})" if cell.n < FULL_SEEDS else "")


def _markdown_cell(cell: Cell | None, compare_paper: bool) -> str:
    if cell is None:
        return "–"
    text = cell_text(cell)
    if compare_paper and cell.paper is not None:
        mark = " †" if cell.outside_paper else ""
        paper = cell.paper
        text += f"<br>paper {paper.mean:.2f} ± {paper.std:.2f}, Δ {cell.mean - paper.mean:+.2f}{mark}"
    return text


def _render_markdown(tables: list[ResultTable], compare_paper: bool) -> str:
    lines = []
    for table in tables:
        lines += [f"### {table_title(table, compare_paper)}", "",
                  "| method | " + " | ".join(f"k={k}" for k in table.ks) + " |",
                  "|---|" + "---|" * len(table.ks)]
        for method in table.methods:
            cells = [_markdown_cell(table.cells.get((method, k)), compare_paper) for k in table.ks]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _notes(tables, compare_paper)
    return "\n".join(lines) + "\n"


def _render_csv(tables: list[ResultTable], compare_paper: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["dataset", "method", "k", "n", "mean", "std", "test_images", "interval_low", "interval_high", "preset"]
    if compare_paper:
        header += ["paper_mean", "paper_std", "diff", "outside_paper_std"]
    writer.writerow(header)
    for table in tables:
        for method in table.methods:
            for k in table.ks:
                cell = table.cells.get((method, k))
                if cell is None:
                    continue
                interval = cell.interval
                row: list[Any] = [table.dataset, method, k, cell.n, f"{cell.mean:.4f}",
                                  "" if math.isnan(cell.std) else f"{cell.std:.4f}",
                                  sum(cell.test_images) if cell.folds else min(cell.test_images, default=0),
                                  *(("", "") if interval is None else (f"{interval[0]:.2f}", f"{interval[1]:.2f}")),
                                  cell.preset]
                if compare_paper:
                    paper = cell.paper
                    row += ["", "", "", ""] if paper is None else [
                        paper.mean, paper.std, f"{cell.mean - paper.mean:.4f}", int(cell.outside_paper)]
                writer.writerow(row)
    return out.getvalue()


def _render_latex(tables: list[ResultTable], compare_paper: bool) -> str:
    lines = []
    for table in tables:
        lines += [f"% {table_title(table, compare_paper)}", r"\begin{tabular}{l" + "c" * len(table.ks) + "}",
                  r"\toprule", "Method & " + " & ".join(f"$k={k}$" for k in table.ks) + r" \\", r"\midrule"]
        for method in table.methods:
            cells = []
            for k in table.ks:
                cell = table.cells.get((method, k))
                if cell is None:
                    cells.append("--")
                    continue
                text = _latex_ours(cell)
                if compare_paper and cell.paper is not None:
                    mark = r"$^\dagger$" if cell.outside_paper else ""
                    text += rf" ({cell.paper.mean:.2f}){mark}"
                cells.append(text)
            lines.append(method.replace("+", r"{+}") + " & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
    lines += [f"% {note}" for note in _notes(tables, compare_paper)]
    return "\n".join(lines) + "\n"


def _latex_ours(cell: Cell) -> str:
    text = f"${cell.mean:.2f}$" if math.isnan(cell.std) else f"${cell.mean:.2f} \\pm {cell.std:.2f}$"
    return text + (rf" {{\scriptsize ($n={cell.n}$)}}" if cell.n < FULL_SEEDS else "")
