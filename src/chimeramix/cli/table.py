"""What ``chimeramix table`` does (its options: :mod:`chimeramix.cli.experiments`): a results store's tables, paired
differences or accuracies over a generator axis, as text and optionally plotted."""

from __future__ import annotations

import argparse

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.paired import paired_rows, render_paired
from chimeramix.experiments.plots import plot_tables
from chimeramix.experiments.sensitivity import axis_tables, plot_axis_tables, render_axis_tables
from chimeramix.experiments.store import Store
from chimeramix.experiments.table_text import render
from chimeramix.experiments.tables import build_tables, load_results
from chimeramix.fileio import atomic_write


def run_table_command(args: argparse.Namespace) -> int:
    store = Store.open(args.store)
    compare = args.compare == "paper"
    results = load_results(store, preset=args.preset, metric=args.metric)
    if args.paired is not None:
        if compare or args.over is not None or args.plot is not None:
            raise ChimeraMixError("--paired makes a table of its own; drop --compare, --over and --plot")
        text = render_paired(paired_rows(results, args.paired), args.format)
    elif args.over is not None:
        if compare:
            raise ChimeraMixError("the paper's sensitivity figures have no numbers to compare with; drop --compare")
        over = axis_tables(results, args.over)
        text = render_axis_tables(over, args.format)
        if args.plot is not None:
            plot_axis_tables(over, args.plot)
    else:
        tables = build_tables(results, compare_paper=compare)
        text = render(tables, args.format, compare_paper=compare)
        if args.plot is not None:
            plot_tables(tables, args.plot)
    if args.output is not None:
        atomic_write(args.output, lambda handle: handle.write(text.encode()))
    else:
        print(text, end="")
    return 0
