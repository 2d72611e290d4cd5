"""Accuracy plots of result tables: accuracy against k (one panel per dataset) or against a generator setting
(:mod:`chimeramix.experiments.sensitivity`), a line with a ± std band per method, clipped to 0-100 %."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from chimeramix.experiments.table_text import table_title
from chimeramix.experiments.tables import Cell, ResultTable
from chimeramix.fileio import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Panel:
    """One panel of an accuracy plot: a line with a ± std band per label, dashed reference levels."""

    title: str
    xlabel: str
    ticks: list[float]
    lines: dict[str, list[tuple[float, Cell]]]
    references: dict[str, Cell] = field(default_factory=dict)
    log_base: float | None = 10


def plot_tables(tables: list[ResultTable], path: str | os.PathLike[str]) -> None:
    """Accuracy against k, one line per method with a ± std band, one panel per dataset (PNG)."""
    plot_panels(accuracy_panels(tables), path)


def accuracy_panels(tables: list[ResultTable]) -> list[Panel]:
    """One panel per dataset: accuracy against k, a line per method."""
    return [Panel(f"{table_title(table)}\nmean ± sample std over seeds", "images per class (k)",
                  [float(k) for k in table.ks],
                  {method: [(float(k), table.cells[method, k]) for k in table.ks if (method, k) in table.cells]
                   for method in table.methods}) for table in tables]


def accuracy_figure(tables: list[ResultTable]) -> Figure:
    """The figure of :func:`plot_tables` (the report embeds it)."""
    return panels_figure(accuracy_panels(tables))


def plot_panels(panels: list[Panel], path: str | os.PathLike[str]) -> None:
    """The panels side by side, as a PNG."""
    figure = panels_figure(panels)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)


def panels_figure(panels: list[Panel]) -> Figure:
    """The panels side by side, as a matplotlib figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5 * len(panels), 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for label, points in panel.lines.items():
            xs = [x for x, _ in points]
            means = np.array([cell.mean for _, cell in points])
            stds = np.nan_to_num(np.array([cell.std for _, cell in points]))
            low, high = np.clip(means - stds, 0, 100), np.clip(means + stds, 0, 100)  # accuracies stay in 0-100 %
            (line,) = ax.plot(xs, means, marker="o", label=label)
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2)
            ax.errorbar(xs, means, yerr=[means - low, high - means], fmt="none", ecolor=line.get_color(),
                        capsize=4)  # seen at one x too
        for label, cell in panel.references.items():
            ax.axhline(cell.mean, linestyle="--", color="grey", label=f"{label} (n={cell.n})")
        if panel.log_base is not None:
            ax.set_xscale("log", base=panel.log_base)
        ax.set_xticks(panel.ticks, [f"{tick:g}" for tick in panel.ticks])
        ax.minorticks_off()
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(panel.title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figure
