"""What ``chimeramix sweep`` and ``chimeramix compare`` do (their options: :mod:`chimeramix.cli.experiments`):
the sweep's spec from the options and the sweep file, its plan with the estimate, the run, and how it ended."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from chimeramix.budget import budget_preset
from chimeramix.cli.common import check_estimate, data_config, device_kind, duration
from chimeramix.components.registry import declared_run_kinds
from chimeramix.config import (
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    from_dict,
    merge,
    parse_int_list,
)
from chimeramix.data.datasets import prepared_file
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.budget import describe_plans, kept_budgets, measure_sweep_costs
from chimeramix.experiments.costs import CostBook
from chimeramix.experiments.estimates import CostEstimate, cost_lines, estimate_cost, remaining
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.launchers import LocalLauncher, RayLauncher
from chimeramix.experiments.plan import dataset_slug, plan_sweep
from chimeramix.experiments.runner import Launcher, SweepReport, plan_tasks, run_sweep
from chimeramix.experiments.slurm import DEFAULT_QUEUED, SlurmLauncher
from chimeramix.experiments.spec import SweepSpec, check_overrides, load_sweep_file
from chimeramix.experiments.store import Store
from chimeramix.experiments.table_text import cell_text, preset_label, render, table_presets
from chimeramix.experiments.tables import ResultTable, build_tables, load_results
from chimeramix.experiments.worker import RunOptions, available_cores
from chimeramix.protocol import FOLDER_PREFIX, train_set
from chimeramix.resolution import resolve_data
from chimeramix.runkinds import run_kinds


def run_sweep_command(args: argparse.Namespace) -> int:
    spec = _sweep_spec(args)
    for dataset in spec.datasets:  # every image read once, before any job (and in a dry run): bad files stop it here
        if dataset.startswith(FOLDER_PREFIX):
            from chimeramix.data.folder import describe_split

            data = resolve_data(from_dict(DataConfig, {**spec.data, "dataset": dataset, "k": 1, "seed": spec.seeds[0]}))
            print(describe_split(data)[0])
    return run_spec(spec, args)


def run_spec(spec: SweepSpec, args: argparse.Namespace) -> int:
    """Plan ``spec``, print the plan and its estimate, then run it into ``args.store`` (the execution options that
    ``sweep`` and ``compare`` take); the exit code (1: some jobs did not finish)."""
    store = Store(args.store)
    if args.launcher != "slurm" and (args.slurm_partition or args.slurm_time or args.slurm_option):
        raise ChimeraMixError("--slurm-partition, --slurm-time and --slurm-option are for --launcher slurm; add it or "
                              "drop them")
    workers = args.workers if args.workers is not None else DEFAULT_QUEUED if args.launcher == "slurm" else 1
    device = _estimate_device(args)
    step_seconds = _key_values(args.step_seconds, "--step-seconds")
    threads = max(1, available_cores() // max(workers, 1)) if args.launcher == "local" else int(args.cpus_per_job)
    book = CostBook.of_this_machine(device, step_seconds, threads) if spec.budget is not None else None
    jobs = _plan_jobs(spec, store, book, measure=not args.dry_run)
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
    if args.dry_run:
        print(_dry_run_text(jobs, pending, options))
        return 0
    _check_before_running(spec, args, costs, cost.seconds, slots)
    store = Store.create(args.store)
    report = run_sweep(store, jobs, _launcher(args, workers, store), options=options, max_attempts=args.max_attempts,
                       progress=not args.no_progress)
    print(_report_text(store, jobs, report, args.max_attempts))
    return 0 if report.complete else 1


def _plan_jobs(spec: SweepSpec, store: Store, book: CostBook | None, *, measure: bool) -> list[Job]:
    """The jobs of ``spec``; a budgeted sweep's planned from this machine's costs (``book``; with ``measure``, the
    costs it lacks are measured first) or with the plans the store kept, every plan printed."""
    kept: dict[str, BudgetConfig] = {}
    if book is not None:
        kept = kept_budgets(store.load_plan().values())
        if measure:
            measure_sweep_costs(spec, book)
    jobs = plan_sweep(spec, book, kept)
    if spec.budget is not None:
        print(describe_plans(jobs, kept))
    return jobs


def _dry_run_text(jobs: list[Job], pending: list[Job], options: RunOptions) -> str:
    """Every job of the plan with its state (finished, its steps, or the steps it has left) and the job it comes
    after, then the packs that the jobs to run form."""
    to_run = {job.id: job for job in pending}
    lines = []
    for job in jobs:
        left = to_run[job.id].steps if job.id in to_run else 0
        state = "finished" if job.id not in to_run else f"{left} steps" if left == job.steps else \
            f"{left} of {job.steps} steps left"
        after = f" (after {job.depends_on})" if job.depends_on else ""
        lines.append(f"  {job.id}: {state}{after}")
    lines += [f"  pack of {len(task)}: {' '.join(job.id for job in task)}" for task in plan_tasks(pending, options)
              if len(task) > 1]
    return "\n".join(lines)


def _check_before_running(spec: SweepSpec, args: argparse.Namespace, costs: CostBook, seconds: float,
                          slots: int | None) -> None:
    """Before any worker starts: the built-in datasets must be prepared (a missing one would fail every job), and
    on a CPU work of hours (``seconds`` of run time, shared by ``slots`` workers) is confirmed, naming what the
    quick preset would take."""
    for dataset in spec.datasets:
        if not dataset.startswith(FOLDER_PREFIX):
            prepared_file(train_set(dataset), "train", args.data_root)
    quick = None if spec.preset == "quick" or spec.budget is not None else estimate_cost(
        plan_sweep(replace(spec, preset="quick")), costs.device, costs.given, measured=costs.measured).seconds
    check_estimate(seconds / (slots or 1), costs.device, args.yes, quick and quick / (slots or 1))


def _launcher(args: argparse.Namespace, workers: int, store: Store) -> Launcher:
    """The launcher that ``--launcher`` names, with its options (SLURM's are printed)."""
    if args.launcher == "ray":
        return RayLauncher(args.ray_address, gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job)
    if args.launcher == "slurm":
        launcher = SlurmLauncher(partition=args.slurm_partition, time_limit=args.slurm_time,
                                 cpus_per_job=args.cpus_per_job, gpus_per_job=args.gpus_per_job or 0,
                                 options=args.slurm_option, max_jobs=workers)
        print(f"slurm: batch jobs with {' '.join(launcher.sbatch_options)}, up to {workers} at once; each job's "
              f"output in {store.root / 'logs'}/JOB.log, SLURM's in JOB.slurm-N.out there")
        return launcher
    devices = [name.strip() for name in args.devices.split(",") if name.strip()] if args.devices else []
    return LocalLauncher(workers, devices)


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
    classifier = _key_values(args.classifier_set, "--classifier-set")
    check_overrides(classifier, ClassifierConfig)
    spec.classifier = merge(spec.classifier, classifier)
    first_runs = _key_values(args.first_run_set, "--first-run-set")
    if args.generator_set:
        first_runs = merge(first_runs, {"generator": _key_values(args.generator_set, "--generator-set")})
    for kind, overrides in first_runs.items():
        spec.first_runs[kind] = merge(spec.first_runs.get(kind, {}), _first_run_overrides(kind, overrides))
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


def _first_run_overrides(kind: str, overrides: Any) -> dict[str, Any]:
    """``--first-run-set KIND.KEY=VALUE``'s overrides of ``kind``, checked against its config class."""
    kinds = declared_run_kinds()
    if kind not in kinds or not isinstance(overrides, dict):
        raise ChimeraMixError(f"cannot read --first-run-set {kind!r}: write KIND.KEY=VALUE with KIND one of "
                              f"{', '.join(kinds) or 'none (no method declares a first run of its own)'}")
    check_overrides(overrides, kinds[kind].config)
    return overrides


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
    if args.device == "auto" and args.launcher in ("ray", "slurm"):
        return "cuda" if args.gpus_per_job else "cpu"
    return device_kind(args.device)


def _plan_summary(
    jobs: list[Job], pending: list[Job], cost: CostEstimate, device: str, slots: int | None, threads: int
) -> str:
    def kinds(listed: list[Job], steps: bool) -> str:
        """The count (and steps) of ``listed`` of each kind that the plan has."""
        parts = []
        for kind in (kind for kind in run_kinds().values() if any(job.kind == kind.name for job in jobs)):
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
