"""Paired differences to a reference method: for every split seed that both ran, method minus reference.

Two methods run on the same splits differ in two ways: by what the methods do, and by which images the split
drew (a split's images move both accuracies alike). The paired difference removes the second: its mean is the
method's gain, its standard deviation over the seeds is the noise of that gain, and the count of positive seeds
says how often the method won (``chimeramix table --store STORE --paired baseline``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.table_text import TableFormat
from chimeramix.experiments.tables import RunResult, aggregate


@dataclass(frozen=True)
class PairedRow:
    """One method against the reference at one dataset and k: the per-seed differences (points of accuracy)."""

    dataset: str
    k: int
    method: str
    reference: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    accuracy: float
    """The method's mean accuracy over these seeds."""
    reference_accuracy: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences))

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1) of the differences; NaN for one seed."""
        return float(np.std(self.differences, ddof=1)) if len(self.differences) > 1 else math.nan

    @property
    def positive(self) -> int:
        return sum(difference > 0 for difference in self.differences)


def paired_rows(results: Iterable[RunResult], reference: str) -> list[PairedRow]:
    """Every method's paired differences to ``reference`` (a row label of the table, e.g. ``baseline``), per
    dataset and k, over the seeds both ran; cells are checked as the table's are (one preset, one recipe)."""
    grouped: dict[tuple[str, int, str], list[RunResult]] = {}
    for run in results:
        grouped.setdefault((run.dataset, run.k, run.label), []).append(run)
    for (dataset, k, label), runs in grouped.items():
        aggregate(f"{dataset} / {label} / k={k}", runs)  # refuses cells of mixed presets, recipes or repeated seeds
    cells = {key: {run.seed: run for run in runs} for key, runs in grouped.items()}
    if not any(label == reference for _, _, label in cells):
        labels = sorted({label for _, _, label in cells})
        raise ChimeraMixError(f"no runs of the reference {reference!r} in the store; pass --paired one of "
                              f"{', '.join(labels)}")
    rows = []
    for (dataset, k, label), by_seed in cells.items():
        base = cells.get((dataset, k, reference))
        if label == reference or base is None:
            continue
        seeds = tuple(sorted(set(by_seed) & set(base)))
        if not seeds:
            continue
        rows.append(PairedRow(dataset, k, label, reference, seeds,
                              tuple(by_seed[seed].accuracy - base[seed].accuracy for seed in seeds),
                              float(np.mean([by_seed[seed].accuracy for seed in seeds])),
                              float(np.mean([base[seed].accuracy for seed in seeds]))))
    return sorted(rows, key=lambda row: (row.dataset, row.k, row.method))


def render_paired(rows: list[PairedRow], fmt: TableFormat) -> str:
    """The rows as Markdown (with every seed's difference) or CSV."""
    if fmt == "csv":
        lines = ["dataset,k,method,reference,n,method_mean,reference_mean,diff_mean,diff_std,positive,seeds,diffs"]
        lines += [f"{row.dataset},{row.k},{row.method},{row.reference},{len(row.seeds)},{row.accuracy:.4f},"
                  f"{row.reference_accuracy:.4f},{row.mean:.4f},{'' if math.isnan(row.std) else f'{row.std:.4f}'},"
                  f"{row.positive},{' '.join(map(str, row.seeds))},{' '.join(f'{d:.2f}' for d in row.differences)}"
                  for row in rows]
        return "\n".join(lines) + "\n"
    if fmt != "md":
        raise ChimeraMixError(f"--paired tables are md or csv, not {fmt}")
    lines = ["| dataset | k | method | n | method | reference | paired difference | positive | per seed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        spread = "" if math.isnan(row.std) else f" ± {row.std:.2f}"
        per_seed = ", ".join(f"s{seed} {difference:+.2f}" for seed, difference in zip(row.seeds, row.differences))
        lines.append(f"| {row.dataset} | {row.k} | {row.method} | {len(row.seeds)} | {row.accuracy:.2f} | "
                     f"{row.reference_accuracy:.2f} ({row.reference}) | {row.mean:+.2f}{spread} | "
                     f"{row.positive}/{len(row.seeds)} | {per_seed} |")
    lines += ["", "Accuracies in %, means over the seeds both ran; paired difference: method - reference on the same "
                  "split, mean ± sample std (ddof=1) over those seeds; positive: seeds on which the method won."]
    return "\n".join(lines) + "\n"
