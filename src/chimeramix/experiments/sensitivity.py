"""Accuracy over a generator axis (the sensitivity studies, paper Figs. 6 and 7), rebuilt from a results store.

For each dataset and k: one row per method (its mask kind) and value of the other generator axes (Fig. 6: one
per number of residual blocks), one column per value of the axis (``grid_cells``, ``blocks`` or the relative
``mix_point``); cells are mean ± sample std over seeds, aggregated as the tables are
(:func:`chimeramix.experiments.tables.aggregate`). Methods without a ChimeraMix generator (the baseline) are
references: one value per dataset and k, a dashed line in the plot.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import axis_kinds, axis_names
from chimeramix.experiments.plots import Panel, plot_panels
from chimeramix.experiments.table_text import STD_NOTE, cell_text, markdown_table
from chimeramix.experiments.tables import Cell, RunResult, aggregate


@dataclass
class AxisTable:
    """One dataset and k: rows (method and other settings) x values of ``axis``; references without an axis."""

    dataset: str
    k: int
    axis: str
    values: list[float] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    cells: dict[tuple[str, float], Cell] = field(default_factory=dict)
    references: dict[str, Cell] = field(default_factory=dict)


def axis_tables(results: Iterable[RunResult], axis: str) -> list[AxisTable]:
    """The tables of accuracy over ``axis``, one per dataset and k that has runs with a ChimeraMix generator."""
    if axis not in axis_kinds():
        raise ChimeraMixError(f"unknown generator axis {axis!r}; use one of {', '.join(axis_names())}")
    groups: dict[tuple[str, int], dict[tuple[str, float | None], list[RunResult]]] = {}
    for run in results:
        key = (run.row_label(axis), run.setting.value(axis) if run.setting is not None else None)
        groups.setdefault((run.dataset, run.k), {}).setdefault(key, []).append(run)
    tables = []
    for (dataset, k), cells in sorted(groups.items()):
        table = AxisTable(dataset, k, axis)
        for (row, value), runs in cells.items():
            cell = aggregate(f"{dataset} / k={k} / {row} / {axis}={value}", runs)
            if value is None:
                table.references[row] = cell
                continue
            table.cells[row, value] = cell
            table.rows += [row] if row not in table.rows else []
            table.values += [value] if value not in table.values else []
        table.values.sort()
        if table.rows:
            tables.append(table)
    if not tables:
        raise ChimeraMixError("the store has no finished ChimeraMix runs to show over a generator axis; run a sweep "
                              "with --generator-axis first")
    return tables


def _value_text(value: float) -> str:
    return f"{value:g}"


def render_axis_tables(tables: list[AxisTable], fmt: str) -> str:
    """The tables as Markdown or CSV."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["dataset", "k", "method", tables[0].axis, "n", "mean", "std"])
        for table in tables:
            entries = [(row, _value_text(value), table.cells[row, value]) for row in table.rows
                       for value in table.values if (row, value) in table.cells]
            entries += [(row, "", cell) for row, cell in table.references.items()]
            for row, value_text, cell in entries:
                writer.writerow([table.dataset, table.k, row, value_text, cell.n, f"{cell.mean:.4f}",
                                 "" if np.isnan(cell.std) else f"{cell.std:.4f}"])
        return out.getvalue()
    if fmt != "md":
        raise ChimeraMixError(f"tables over a generator axis come as md or csv, not {fmt}; pass --format md or csv")
    lines = []
    for table in tables:
        rows = [(row, [cell_text(table.cells[row, v]) if (row, v) in table.cells else "–" for v in table.values])
                for row in table.rows]
        rows += [(f"{row} (reference)", [cell_text(cell)] * len(table.values))
                 for row, cell in table.references.items()]
        title = f"{table.dataset}, k = {table.k}: accuracy over {axis_title(table.axis)}"
        lines += [*markdown_table(title, [f"{table.axis}={_value_text(v)}" for v in table.values], rows), ""]
    lines.append(STD_NOTE)
    return "\n".join(lines) + "\n"


def plot_axis_tables(tables: list[AxisTable], path: str | os.PathLike[str]) -> None:
    """Accuracy over the axis, one line per row with a ± std band, references dashed; a panel per dataset and k."""
    plot_panels([Panel(f"{table.dataset}, k = {table.k} (mean ± sample std over seeds)", axis_title(table.axis),
                       table.values, {row: [(value, table.cells[row, value]) for value in table.values
                                            if (row, value) in table.cells] for row in table.rows},
                       table.references, 2 if table.axis == "grid_cells" else None) for table in tables], path)


def axis_title(axis: str) -> str:
    """The title of ``axis`` (its kind's)."""
    axes = axis_kinds()[axis].axes
    assert axes is not None
    return axes.titles[axis]
