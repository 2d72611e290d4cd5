"""``chimeramix sweep`` (plan and run a grid of experiments) and ``chimeramix table`` (tables of a store)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from chimeramix.budget import budget_preset
from chimeramix.cli.common import (
    SWEEP_HINT,
    add_budget_argument,
    add_data_root_argument,
    add_folder_arguments,
    add_yes_argument,
    check_estimate,
    data_config,
    duration,
)
from chimeramix.config import ClassifierConfig, DataConfig, GeneratorConfig, from_dict, merge, parse_int_list
from chimeramix.data.datasets import prepared_file
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.axes import AXES
from chimeramix.experiments.budget import describe_plans, kept_budgets, measure_sweep_costs
from chimeramix.experiments.costs import CostBook, CostEstimate, cost_lines, estimate_cost, remaining
from chimeramix.experiments.launchers import LocalLauncher, RayLauncher
from chimeramix.experiments.paired import paired_rows, render_paired
from chimeramix.experiments.plan import Job, SweepSpec, check_overrides, dataset_slug, load_sweep_file, plan_sweep
from chimeramix.experiments.plots import plot_tables
from chimeramix.experiments.runner import Launcher, RunOptions, SweepReport, available_cores, plan_tasks, run_sweep
from chimeramix.experiments.sensitivity import axis_tables, plot_axis_tables, render_axis_tables
from chimeramix.experiments.slurm import DEFAULT_QUEUED, SlurmLauncher
from chimeramix.experiments.store import DEFAULT_STALE_AFTER_S, Store
from chimeramix.experiments.tables import (
    ResultTable,
    build_tables,
    cell_text,
    load_results,
    preset_label,
    render,
    table_presets,
)
from chimeramix.fileio import atomic_write
from chimeramix.protocol import FOLDER_PREFIX, train_set
from chimeramix.resolution import resolve_data
from chimeramix.runkinds import RUN_KINDS


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
                       help="YAML with keys datasets, methods, k, seeds, preset, recipe, generator, classifier; the "
                            "options below override it")
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
                        help="override a generator config field, e.g. epochs=2 or masks.grid_cells=2 "
                             "(repeatable)")
    parser.add_argument("--classifier-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a classifier config field, e.g. epochs=2 (repeatable)")
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
    table.add_argument("--over", choices=AXES, default=None, metavar="AXIS",
                       help="accuracy over a generator axis of the sweep (Figs. 6, 7): columns are its values ("
                            f"{', '.join(AXES)}), a table per dataset and k; md or csv")
    table.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                       help="also plot accuracy against k (with --over: against the axis), one line per method with "
                            "± std bands")
    table.add_argument("--paired", default=None, metavar="METHOD",
                       help="paired differences to METHOD (e.g. baseline) over the seeds both ran: per seed, mean ± "
                            "std and how many seeds each method won; md or csv")
    table.add_argument("--output", type=Path, default=None, metavar="FILE",
                       help="write the table to FILE instead of stdout")
    table.set_defaults(handler=run_table_command)


# --------------------------------------------------------------------------------------------------- sweep


def run_sweep_command(args: argparse.Namespace) -> int:
    spec = _sweep_spec(args)
    for dataset in spec.datasets:  # every image read once, before any job (and in a dry run): bad files stop it here
        if dataset.startswith(FOLDER_PREFIX):
            from chimeramix.data.folder import describe_split

            data = resolve_data(from_dict(DataConfig, {**spec.data, "dataset": dataset, "k": 1, "seed": spec.seeds[0]}))
            print(describe_split(data)[0])
    return run_spec(spec, args)


def run_spec(spec: SweepSpec, args: argparse.Namespace) -> int:
    """Plan ``spec``, print the plan and its estimate, then run it into ``args.store`` (the execution options
    of :func:`_add_execution_arguments`); the exit code (1: some jobs did not finish)."""
    store = Store(args.store)
    if args.launcher != "slurm" and (args.slurm_partition or args.slurm_time or args.slurm_option):
        raise ChimeraMixError("--slurm-partition, --slurm-time and --slurm-option are for --launcher slurm; add it or "
                              "drop them")
    workers = args.workers if args.workers is not None else DEFAULT_QUEUED if args.launcher == "slurm" else 1
    device = _estimate_device(args)
    step_seconds = _key_values(args.step_seconds, "--step-seconds")
    threads = max(1, available_cores() // max(workers, 1)) if args.launcher == "local" else int(args.cpus_per_job)
    book, kept = None, {}
    if spec.budget is not None:
        book = CostBook.of_this_machine(device, step_seconds, threads)
        kept = kept_budgets(store.load_plan().values())
        if not args.dry_run:
            measure_sweep_costs(spec, book)
    jobs = plan_sweep(spec, book, kept)
    if spec.budget is not None:
        print(describe_plans(jobs, kept))
    for flag, size in (("--workers", workers), ("--pack", args.pack), ("--generator-pack", args.generator_pack)):
        if size is not None and size < 1:
            raise ChimeraMixError(f"{flag} must be at least 1, got {size}")
    options = RunOptions(data_root=args.data_root, device=args.device, fast=args.fast, pack=args.pack,
                         generator_pack=args.generator_pack, stale_after_s=args.stale_after)
    pending = [remaining(job, store.run_dir(job.id)) for job in jobs if not store.is_finished(job.id)]
    slots = workers if args.launcher == "local" else None
    costs = CostBook.of_this_machine(device, step_seconds, threads)
    cost = estimate_cost(pending, device, step_seconds, measured=costs.measured)
    print(_plan_summary(jobs, pending, cost, device, slots, threads))
    print("\n".join(cost_lines(pending, costs)))
    if not args.dry_run:
        for dataset in spec.datasets:  # before any worker starts: a missing dataset would fail every job
            if not dataset.startswith(FOLDER_PREFIX):
                prepared_file(train_set(dataset), "train", args.data_root)
        quick = None if spec.preset == "quick" or spec.budget is not None else estimate_cost(
            plan_sweep(replace(spec, preset="quick")), device, step_seconds, measured=costs.measured).seconds
        check_estimate(cost.seconds / (slots or 1), device, args.yes, quick and quick / (slots or 1))
        store = Store.create(args.store)
    if args.dry_run:
        to_run = {job.id: job for job in pending}
        for job in jobs:
            left = to_run[job.id].steps if job.id in to_run else 0
            state = "finished" if job.id not in to_run else f"{left} steps" if left == job.steps else \
                f"{left} of {job.steps} steps left"
            after = f" (after {job.depends_on})" if job.depends_on else ""
            print(f"  {job.id}: {state}{after}")
        for task in plan_tasks(pending, options):
            if len(task) > 1:
                print(f"  pack of {len(task)}: {' '.join(job.id for job in task)}")
        return 0
    launcher: Launcher
    if args.launcher == "ray":
        launcher = RayLauncher(args.ray_address, gpus_per_job=args.gpus_per_job,
                               cpus_per_job=args.cpus_per_job)
    elif args.launcher == "slurm":
        launcher = SlurmLauncher(partition=args.slurm_partition, time_limit=args.slurm_time,
                                 cpus_per_job=args.cpus_per_job, gpus_per_job=args.gpus_per_job or 0,
                                 options=args.slurm_option, max_jobs=workers)
        print(f"slurm: batch jobs with {' '.join(launcher.sbatch_options)}, up to {workers} at once; each job's "
              f"output in {store.root / 'logs'}/JOB.log, SLURM's in JOB.slurm-N.out there")
    else:
        devices = [name.strip() for name in args.devices.split(",") if name.strip()] if args.devices else []
        launcher = LocalLauncher(workers, devices)
    report = run_sweep(store, jobs, launcher, options=options, max_attempts=args.max_attempts,
                       progress=not args.no_progress)
    print(_report_text(store, jobs, report, args.max_attempts))
    return 0 if report.complete else 1


def run_compare_command(args: argparse.Namespace) -> int:
    """``compare``: a sweep of one dataset, then its table and the best method with mean ± std."""
    if args.folds and args.seeds:
        raise ChimeraMixError(f"--seeds and --folds {args.folds} exclude each other: with --folds N the split seeds "
                              "are the folds 0..N-1; drop --seeds")
    seeds = list(range(args.folds)) if args.folds else parse_int_list(args.seeds or "0-2")
    data = data_config(argparse.Namespace(**{**vars(args), "seed": seeds[0]}))
    folder = {"folder_image_size": data.folder_image_size, "folder_test_fraction": data.folder_test_fraction,
              "folder_folds": data.folder_folds, "skip_unreadable": data.skip_unreadable}
    spec = _sweep_spec(argparse.Namespace(**{**vars(args), "file": None, "datasets": data.dataset,
                                             "k": str(data.k), "seeds": ",".join(map(str, seeds)),
                                             "generator_axis": []}))
    spec.data = folder if args.dataset.startswith(FOLDER_PREFIX) else {}
    if args.store is None:
        args.store = Path("runs") / f"compare-{dataset_slug(data)}"
    code = run_spec(spec, args)
    if args.dry_run:
        return code
    results = [r for r in load_results(Store.open(args.store), preset=spec.preset, required=False)
               if r.dataset == data.dataset]
    if not results:  # every job failed: the lines above say why and what to do
        return code
    tables = build_tables(results)
    print(render(tables, "md"), end="")
    print(best_line(tables[0], data.k, "folds" if args.folds else "seeds"))
    print(f"report: chimeramix report {args.store}")
    return code


def best_line(table: ResultTable, k: int, over: str) -> str:
    """``best: mixup 61.11 ± 4.81 % (n=3) over folds [95 % interval 47.9-72.9 % on 54 test images over 3 folds];
    baseline ...; quick preset`` (each method with its test images and interval, and what the runs were)."""
    cells = sorted(((table.cells[m, k], m) for m in table.methods if (m, k) in table.cells),
                   key=lambda item: -item[0].mean)
    parts = [f"{name} {cell_text(cell, unit=' %')}" + (f" over {over}" if not i else "") +
             f" [{cell.uncertainty_text()}]" for i, (cell, name) in enumerate(cells)]
    return f"best: {'; '.join(parts)}; runs of the {', '.join(preset_label(p) for p in table_presets(table))}"


def _sweep_spec(args: argparse.Namespace) -> SweepSpec:
    spec = load_sweep_file(args.file) if args.file else SweepSpec([], [], [], [])
    if args.datasets:
        spec.datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
    if args.methods:
        spec.methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    if args.k:
        spec.ks = parse_int_list(args.k)
    if args.seeds:
        spec.seeds = parse_int_list(args.seeds)
    if args.preset:
        spec.preset = args.preset
    if args.budget is not None:
        if args.preset:
            raise ChimeraMixError("--budget replaces --preset: give one of them")
        spec.budget, spec.preset = args.budget, budget_preset(args.budget)
    if args.recipe:
        spec.recipe = args.recipe
    generator = _key_values(args.generator_set, "--generator-set")
    classifier = _key_values(args.classifier_set, "--classifier-set")
    check_overrides(generator, GeneratorConfig)
    check_overrides(classifier, ClassifierConfig)
    spec.generator = merge(spec.generator, generator)
    spec.classifier = merge(spec.classifier, classifier)
    spec.generator_axes = {**spec.generator_axes, **_axis_values(args.generator_axis)}
    missing = [name for name, values in (("--datasets", spec.datasets), ("--methods", spec.methods),
                                         ("--k", spec.ks), ("--seeds", spec.seeds)) if not values]
    if missing:
        raise ChimeraMixError(f"the sweep lacks {', '.join(missing)}; pass them or a --file that sets them")
    return spec


def _key_values(items: list[str], option: str) -> dict[str, Any]:
    """``["epochs=2", "masks.grid_cells=2"]`` -> ``{"epochs": 2, "masks": {"grid_cells": 2}}`` (values read as
    YAML; dotted keys are nested fields)."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ChimeraMixError(f"cannot read {option} {item!r}; write KEY=VALUE, e.g. epochs=2")
        *parents, name = key.strip().split(".")
        target = values
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = yaml.safe_load(text)
    return values


def _axis_values(items: list[str]) -> dict[str, list[float]]:
    """``["grid_cells=1,2,4"]`` -> ``{"grid_cells": [1, 2, 4]}``."""
    axes: dict[str, list[float]] = {}
    for item in items:
        axis, sep, text = item.partition("=")
        try:
            values = [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = []
        if not sep or not values:
            raise ChimeraMixError(f"cannot read --generator-axis {item!r}; write AXIS=V,V,..., e.g. grid_cells=1,2,4,8")
        axes[axis.strip()] = [int(value) if value.is_integer() and axis.strip() != "mix_point" else value
                              for value in values]
    return axes


def _estimate_device(args: argparse.Namespace) -> str:
    """The device kind the cost estimate assumes: the requested one, else where the jobs will run."""
    if args.device != "auto":
        return "cuda" if args.device.startswith("cuda") else "cpu"
    if args.launcher in ("ray", "slurm"):
        return "cuda" if args.gpus_per_job else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _plan_summary(
    jobs: list[Job], pending: list[Job], cost: CostEstimate, device: str, slots: int | None, threads: int
) -> str:
    def kinds(listed: list[Job], steps: bool) -> str:
        """The count (and steps) of ``listed`` of each kind that the plan has."""
        parts = []
        for kind in (kind for kind in RUN_KINDS.values() if any(job.kind == kind.name for job in jobs)):
            chosen = [job for job in listed if job.kind == kind.name]
            parts.append(f"{len(chosen)} {kind.plural}" + (f" ({sum(j.steps for j in chosen):,} steps)" if steps
                                                           else ""))
        return ", ".join(parts)

    whole = {job.id: job.steps for job in jobs}
    resumed = sum(job.steps != whole[job.id] for job in pending)
    where = f"{device}, {threads} thread(s) per job" if device == "cpu" else device
    lines = [
        f"plan: {len(jobs)} jobs ({kinds(jobs, False)}); {len(jobs) - len(pending)} already finished"
        + (f", {resumed} resume from a checkpoint (counted by the steps they have left)" if resumed else ""),
        f"to run: {kinds(pending, True)}",
        f"estimate on {where}: {duration(cost.seconds)} of run time one after another, if nothing else runs here",
    ]
    if slots and slots > 1:
        lines[-1] += f", about {duration(cost.seconds / slots)} on {slots} workers if none slows another"
    return "\n".join(lines)


def _report_text(store: Store, jobs: list[Job], report: SweepReport, max_attempts: int) -> str:
    """How the sweep ended: jobs finished, then one line per distinct failure (the jobs that had it) with its
    fix, and the jobs not run because of one."""
    lines = [f"{len(report.finished)} of {len(jobs)} jobs finished ({len(report.ran)} by this sweep); "
             f"results in {store.root}"]
    failures: dict[tuple[str, bool], list[str]] = {}
    for job_id, attempts in report.failed.items():
        failures.setdefault((attempts[-1]["error"], attempts[-1].get("retry", True)), []).append(job_id)
    for (error, retry), ids in failures.items():
        listed = ids[0] if len(ids) == 1 else f"{len(ids)} jobs ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
        if retry:
            lines.append(f"FAILED {listed} after {len(report.failed[ids[0]])} attempts: {error} (log: "
                         f"{store.log_path(ids[0])}; to try again: --max-attempts {max_attempts + 1})")
        else:
            lines.append(f"FAILED {listed}: {error} (a problem with the data, not retried: fix it as said, then "
                         f"rerun the same command; log: {store.log_path(ids[0])})")
    for job_id, failed in report.blocked.items():
        lines.append(f"NOT RUN {job_id}: it needs {failed}, which failed")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------- table


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
