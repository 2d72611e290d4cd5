"""The tables of :mod:`chimeramix.experiments.tables` as text: Markdown, CSV or LaTeX (:func:`render`), with their
titles, cells (mean ± std, n when fewer than the protocol's seeds) and the notes that say what they show."""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Literal

from chimeramix.budget import budget_minutes
from chimeramix.experiments.tables import Cell, ResultTable

TableFormat = Literal["md", "csv", "latex"]

FULL_SEEDS = 5
"""The protocol's number of splits; cells with fewer runs show their n."""

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


def markdown_table(title: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    """The lines of a Markdown table under a ``###`` title: a ``method`` column, then ``columns``; a line per row of
    (method, its cells)."""
    lines = [f"### {title}", "", "| method | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    return lines + [f"| {method} | " + " | ".join(cells) + " |" for method, cells in rows]


def _render_markdown(tables: list[ResultTable], compare_paper: bool) -> str:
    lines = []
    for table in tables:
        rows = [(method, [_markdown_cell(table.cells.get((method, k)), compare_paper) for k in table.ks])
                for method in table.methods]
        lines += [*markdown_table(table_title(table, compare_paper), [f"k={k}" for k in table.ks], rows), ""]
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
            cells = [_latex_cell(table.cells.get((method, k)), compare_paper) for k in table.ks]
            lines.append(method.replace("+", r"{+}") + " & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
    lines += [f"% {note}" for note in _notes(tables, compare_paper)]
    return "\n".join(lines) + "\n"


def _latex_cell(cell: Cell | None, compare_paper: bool) -> str:
    """Our mean ± std (and n, when fewer than :data:`FULL_SEEDS` runs), then the paper's mean, † when ours lies
    outside its ± 1 std; ``--`` without runs."""
    if cell is None:
        return "--"
    text = f"${cell.mean:.2f}$" if math.isnan(cell.std) else f"${cell.mean:.2f} \\pm {cell.std:.2f}$"
    text += rf" {{\scriptsize ($n={cell.n}$)}}" if cell.n < FULL_SEEDS else ""
    if compare_paper and cell.paper is not None:
        mark = r"$^\dagger$" if cell.outside_paper else ""
        text += rf" ({cell.paper.mean:.2f}){mark}"
    return text
