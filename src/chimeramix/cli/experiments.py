"""The options of ``chimeramix sweep`` (plan and run a grid of experiments), ``chimeramix compare`` (methods on one
dataset over several seeds or folds) and ``chimeramix table`` (tables of a store); what the commands do is
:mod:`chimeramix.cli.sweep` and :mod:`chimeramix.cli.table`."""

from __future__ import annotations

import argparse
from pathlib import Path

from chimeramix.cli.common import (
    SWEEP_HINT,
    add_budget_argument,
    add_data_root_argument,
    add_folder_arguments,
    add_yes_argument,
)
from chimeramix.cli.sweep import run_compare_command, run_sweep_command
from chimeramix.cli.table import run_table_command
from chimeramix.components.registry import declared_run_kinds
from chimeramix.experiments.axes import axis_names
from chimeramix.experiments.slurm import DEFAULT_QUEUED
from chimeramix.experiments.store import DEFAULT_STALE_AFTER_S


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_sweep(subparsers)
    _register_compare(subparsers)
    _register_table(subparsers)


def _register_sweep(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = subparsers.add_parser(
        "sweep", help="plan and run a grid of generator and classifier runs into a results store",
        description="Plan the jobs of a grid (generators shared between methods), print the plan with its "
                    "cost, then run it. Rerunning skips finished jobs, resumes interrupted ones and retries "
                    "failed ones.")
    sweep.add_argument("--file", type=Path, default=None, metavar="SWEEP.yaml",
                       help="YAML with keys datasets, methods, k, seeds, preset, recipe, budget, generator, "
                            "classifier, generator_axes, and one per kind of a method's own first run "
                            f"({', '.join(declared_run_kinds())}); the options below override it")
    sweep.add_argument("--datasets", default=None, help="comma-separated, e.g. cifar10,stl10")
    sweep.add_argument("--methods", default=None, help="comma-separated, e.g. baseline,chimeramix-grid")
    sweep.add_argument("--k", default=None, help="images per class, e.g. 5,10,20,30,50,100")
    sweep.add_argument("--seeds", default=None, help="split seeds, e.g. 0-4")
    sweep.add_argument("--preset", choices=("paper", "quick"), default=None, help="default: paper")
    add_budget_argument(sweep)
    sweep.add_argument("--recipe", choices=("paper", "released"), default=None,
                       help="paper: the paper's text; released: the authors' code (default: paper; see README)")
    sweep.add_argument("--generator-axis", action="append", default=[], metavar="AXIS=V,V,...",
                       help="vary a generator setting as an axis of the grid (Figs. 6, 7): blocks=2,4,6, "
                            "mix_point=0,0.25,0.5,0.75,1 (mix_after / blocks) or grid_cells=1,2,4,8 (repeatable)")
    sweep.add_argument("--store", type=Path, required=True, help="results store folder (created if missing)")
    _add_execution_arguments(sweep)
    sweep.set_defaults(handler=run_sweep_command, interrupt_hint=SWEEP_HINT)


def _add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sweep`` and ``compare`` besides the grid: overrides, workers, devices, estimates."""
    parser.add_argument("--generator-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of ChimeraMix's generator config, e.g. epochs=2 or "
                             "masks.grid_cells=2 (repeatable; the same as --first-run-set generator.KEY=VALUE)")
    parser.add_argument("--classifier-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a classifier config field, e.g. epochs=2 (repeatable)")
    kinds = ", ".join(declared_run_kinds())
    parser.add_argument("--first-run-set", action="append", default=[], metavar="KIND.KEY=VALUE",
                        help=f"override a field of the config of a method's own first run, by its kind ({kinds}), "
                             f"e.g. {next(iter(declared_run_kinds()), 'KIND')}.epochs=50 (repeatable; a sweep file "
                             "sets the same under the kind's name)")
    parser.add_argument("--launcher", choices=("local", "ray", "slurm"), default="local",
                        help="local: processes here; ray: tasks on a Ray cluster; slurm: one batch job per job (or "
                             "pack) on a SLURM cluster (see README, On a cluster)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local: jobs at once here (default 1); slurm: batch jobs queued or running at once "
                             f"(default {DEFAULT_QUEUED})")
    parser.add_argument("--devices", default=None, metavar="DEV,DEV,...",
                        help="local: spread the workers' jobs over these devices, e.g. cuda:0,cuda:1 "
                        "(default: --device for every job)")
    parser.add_argument("--ray-address", default=None, help="ray: address of a cluster, e.g. HOST:6379")
    parser.add_argument("--gpus-per-job", type=float, default=None,
                        help="ray: GPUs per job, e.g. 0.25 to share a GPU by four (default 1 on a GPU "
                             "cluster, else 0); slurm: whole GPUs per batch job (default 0)")
    parser.add_argument("--cpus-per-job", type=float, default=1.0, help="ray, slurm: CPUs per job (default 1)")
    parser.add_argument("--slurm-partition", default=None, help="slurm: the partition (default: the cluster's)")
    parser.add_argument("--slurm-time", default=None, metavar="TIME",
                        help="slurm: time limit of each batch job as sbatch's --time takes it, e.g. 4:00:00 "
                             "(default: the partition's)")
    parser.add_argument("--slurm-option", action="append", default=[], metavar="NAME[=VALUE]",
                        help="slurm: another sbatch option for every batch job, without its dashes, e.g. mem=16G, "
                             "account=lab or qos=normal (repeatable)")
    parser.add_argument("--device", default="auto", help="device of every run: auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--fast", action="store_true",
                        help="run every job on the fast GPU path (CUDA graphs; same computation and job ids)")
    parser.add_argument("--pack", type=int, default=1, metavar="N",
                        help="train up to N jobs of one kind (generators, classifiers) that differ only in their "
                             "split seed and method (methods of one batch form) as one pack: one worker, one "
                             "batched model (default 1: none; on a GPU, 5 packs a cell's splits, 10 its two methods)")
    parser.add_argument("--generator-pack", type=int, default=None, metavar="N",
                        help="the pack size for generator jobs (default: --pack)")
    add_data_root_argument(parser)
    parser.add_argument("--max-attempts", type=int, default=2,
                        help="a job that failed this often is reported, not retried (default 2)")
    parser.add_argument("--stale-after", type=float, default=DEFAULT_STALE_AFTER_S, metavar="SECONDS",
                        help="take over a job whose claim has had no heartbeat this long (default "
                            f"{DEFAULT_STALE_AFTER_S:.0f})")
    parser.add_argument("--step-seconds", action="append", default=[], metavar="KEY=SECONDS",
                        help="per-step cost for the estimate, e.g. classifier/wrn-16-8=0.2 or generator=1.5")
    parser.add_argument("--dry-run", action="store_true", help="print the plan with every job, run nothing")
    add_yes_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _register_compare(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = subparsers.add_parser(
        "compare", help="compare methods on your own folder over several seeds or folds; print the best",
        description="Train each method over several split seeds (or the folds of --folds N) on one dataset as a "
                    "sweep into a results store, then print the table of test accuracies (mean ± std) and the "
                    "best method. Rerunning continues where it stopped.")
    compare.add_argument("dataset", metavar="DATASET", help="folder:PATH (or a built-in dataset)")
    compare.add_argument("--methods", default="baseline,chimeramix-grid",
                         help="comma-separated (default: baseline,chimeramix-grid)")
    compare.add_argument("--seeds", default=None, help="split seeds (default 0-2; not with --folds, whose folds are "
                                                       "the split seeds)")
    compare.add_argument("--k", type=int, default=None,
                         help="training images per class (folders: default every image of the smallest class)")
    compare.add_argument("--preset", choices=("paper", "quick"), default=None, help="default: paper")
    add_budget_argument(compare)
    compare.add_argument("--recipe", choices=("paper", "released"), default=None)
    compare.add_argument("--store", type=Path, default=None,
                         help="results store (default: runs/compare-<dataset>, see the output)")
    add_folder_arguments(compare)
    _add_execution_arguments(compare)
    compare.set_defaults(handler=run_compare_command, interrupt_hint=SWEEP_HINT)


def _register_table(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    table = subparsers.add_parser(
        "table", help="tables (and a plot) of a results store: methods x k",
        description="Rebuild Table 1/3-style tables from a results store: rows are methods, columns k, cells "
                    "mean ± sample std (ddof=1) over seeds.")
    table.add_argument("--store", type=Path, required=True, help="results store folder")
    table.add_argument("--format", choices=("md", "csv", "latex"), default="md")
    table.add_argument("--compare", choices=("paper",), default=None,
                       help="paper: add the paper's value, the difference, and † outside its ±1 std")
    table.add_argument("--preset", default=None, help="only runs of this preset")
    table.add_argument("--metric", default="accuracy",
                       help="metric of result.json to tabulate (default accuracy; for cifar10 also "
                            "accuracy_cifair10_kept)")
    table.add_argument("--over", choices=axis_names(), default=None, metavar="AXIS",
                       help="accuracy over a generator axis of the sweep (Figs. 6, 7): columns are its values ("
                            f"{', '.join(axis_names())}), a table per dataset and k; md or csv")
    table.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                       help="also plot accuracy against k (with --over: against the axis), one line per method with "
                            "± std bands")
    table.add_argument("--paired", default=None, metavar="METHOD",
                       help="paired differences to METHOD (e.g. baseline) over the seeds both ran: per seed, mean ± "
                            "std and how many seeds each method won; md or csv")
    table.add_argument("--output", type=Path, default=None, metavar="FILE",
                       help="write the table to FILE instead of stdout")
    table.set_defaults(handler=run_table_command)
