"""``chimeramix classifier train``; ``chimeramix run``: the generator (or teacher) a method needs, then the
classifier."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from chimeramix.cli.common import (
    RERUN_HINT,
    RESUME_HINT,
    add_budget_argument,
    add_data_arguments,
    add_yes_argument,
    check_estimate,
    data_config,
    device_kind,
    duration,
)
from chimeramix.components.registry import all_hooks, method_names
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.resolution import apply_preset, classifier_config
from chimeramix.rundir import RESULT_FILE
from chimeramix.uncertainty import accuracy_interval, describe_accuracy

OVERRIDES = ("epochs", "batch_size", "lr", "weight_decay", "repetition", "architecture", "dropout",
             "pair_mixing_p", "eval_every", "checkpoint_every", "device", "recipe")
"""Config fields that have a command-line option of the same name."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    classifier = subparsers.add_parser("classifier", help="train a classifier with an augmentation method")
    actions = classifier.add_subparsers(dest="classifier_command", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="train and evaluate one classifier run")
    add_run_arguments(train)
    train.add_argument("--generator", default=None, metavar="RUN_DIR",
                       help="finished generator run for chimeramix-* methods")
    train.add_argument("--teacher", default=None, metavar="RUN_DIR",
                       help="finished classifier run of the same split for a method that mixes under a "
                            "teacher (e.g. method baseline)")
    train.add_argument("--allow-mismatch", action="store_true",
                       help="use a generator (or teacher) trained on another dataset, size, k, seed or mask kind")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run directory")
    train.set_defaults(handler=run_train, interrupt_hint=RESUME_HINT)

    run = subparsers.add_parser(
        "run", help="train the generator a method needs (or reuse it), then the classifier; print the result"
    )
    add_run_arguments(run)
    run.add_argument("--out", type=Path, default=Path("runs"), metavar="DIR",
                     help="folder of the run directories (default: runs); finished runs there are reused")
    add_budget_argument(run)
    run.set_defaults(handler=run_run, interrupt_hint=RERUN_HINT)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--method", default="baseline",
                        help=f"{', '.join(method_names())}; combine with '+', e.g. "
                        "chimeramix-seg+trivialaugment (default: baseline); `run` takes several, comma-separated")
    parser.add_argument("--preset", choices=("paper", "quick"), default=None,
                        help="paper: the full protocol; quick: a short CPU-sized run (default: paper)")
    parser.add_argument("--recipe", choices=("paper", "released"), default=None,
                        help="paper: the paper's text; released: the authors' code (default: paper; see README)")
    overrides = parser.add_argument_group("overrides of the protocol's values")
    overrides.add_argument("--epochs", type=int)
    overrides.add_argument("--batch-size", type=int)
    overrides.add_argument("--lr", type=float, help="initial learning rate")
    overrides.add_argument("--weight-decay", type=float)
    overrides.add_argument("--repetition", type=int, metavar="R", help="R of the repetition max(R // k, 1)")
    networks = [f"{hooks.front_end.name('WIDTH')} (default {hooks.front_end.default('paper')})"
                for hooks in all_hooks().values() if hooks.front_end is not None]
    overrides.add_argument("--architecture", help="wrn-16-8, resnet50 or any wrn-DEPTH-WIDTH; methods with a front "
                           f"end: its network, {', '.join(networks)}")
    overrides.add_argument("--dropout", type=float, help="WideResNet dropout (default 0.3)")
    overrides.add_argument("--pair-mixing-p", type=float, metavar="P",
                           help="probability that a batch is replaced by compositions with same-class partners "
                                "(pair mixing), or that a teacher-mixing method adds mixes (default 0.5)")
    overrides.add_argument("--eval-every", type=int, metavar="EPOCHS",
                           help="also evaluate the test set every so many epochs, for curves only")
    overrides.add_argument("--checkpoint-every", type=int, metavar="EPOCHS")
    overrides.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    overrides.add_argument("--no-amp", action="store_true",
                           help="float32 throughout: no bf16 autocast (on CUDA and on CPUs with native bf16)")
    overrides.add_argument("--no-progress", action="store_true", help="no progress bar (a line per epoch instead)")
    overrides.add_argument("--fast", action="store_true",
                           help="the fast GPU path (CUDA graphs; same computation, see benchmarks/RESULTS.md)")
    for hooks in all_hooks().values():
        if hooks.add_arguments is not None:
            hooks.add_arguments(parser)
    add_yes_argument(parser)


def config_from(args: argparse.Namespace, data: DataConfig, **extra: Any) -> ClassifierConfig:
    """The classifier config the arguments describe for ``data`` (preset, then the given overrides)."""
    values = {name: getattr(args, name) for name in OVERRIDES}
    if args.no_amp:
        values["amp"] = False
    if args.fast:
        values["fast"] = True
    sections = {hooks.section: section for hooks in all_hooks().values()
                if hooks.from_arguments is not None and hooks.section is not None
                and (section := hooks.from_arguments(args)) is not None}
    if sections:
        values["method_settings"] = sections
    return classifier_config(data, args.method, args.preset or "paper", **values, **extra)


def run_train(args: argparse.Namespace) -> int:
    from chimeramix.classifier.trainer import train_classifier
    from chimeramix.experiments.costs import cost_key, record_cost
    from chimeramix.experiments.jobs import run_job
    from chimeramix.rundir import RunFolder

    config = config_from(args, data_config(args), generator=args.generator, teacher=args.teacher,
                         allow_mismatch=args.allow_mismatch or None)
    if not RunFolder(args.out).is_finished:
        announce([run_job(config)], [run_job(apply_preset(config, 'quick'))], config.device, args.yes,
                 [args.out] if args.resume else None)
    started = time.perf_counter()
    result = train_classifier(config, args.out, resume=args.resume, progress=not args.no_progress)
    record_cost(cost_key("classifier", result["config"]), result, time.perf_counter() - started)
    print(summary(result, args.out))
    return 0


def announce(jobs: list[Any], quick: list[Any] | None, device: str, yes: bool,
             run_dirs: list[Path] | None = None) -> None:
    """Print the estimate of the runs about to start and its basis (per network: steps, cost per step and where
    it comes from); a run in ``run_dirs`` (one per job) that holds a checkpoint counts only the steps it has left.
    On a CPU, ask before work of hours."""
    from chimeramix.experiments.costs import CostBook, compute_threads
    from chimeramix.experiments.estimates import cost_lines, estimate_cost, remaining

    if not jobs:
        return
    kind = device_kind(device)
    book = CostBook.of_this_machine(kind)
    left = [remaining(job, Path(run_dir)) for job, run_dir in zip(jobs, run_dirs)] if run_dirs else jobs
    resumed = sum(job.steps != whole.steps for job, whole in zip(left, jobs))
    seconds = estimate_cost(left, kind, measured=book.measured).seconds
    threads = compute_threads()
    where = f"{kind}, {threads} thread{'s' if threads > 1 else ''}" if kind == "cpu" else kind
    note = f"; {resumed} run(s) resume, counted by the steps they have left" if resumed else ""
    print(f"estimate on {where}: about {duration(seconds)} if nothing else runs here{note}", flush=True)
    print("\n".join(cost_lines(left, book)), flush=True)
    quick_seconds = estimate_cost(quick, kind, measured=book.measured).seconds if quick else None
    check_estimate(seconds, kind, yes, quick_seconds)


def run_run(args: argparse.Namespace) -> int:
    """Each comma-separated method in turn (generators shared), on every fold with ``--folds N``, then a
    comparison when there are several runs (with the mean ± std over the folds)."""
    from chimeramix.experiments.jobs import run_job
    from chimeramix.experiments.pipeline import experiment_runs, run_experiment
    from chimeramix.rundir import RunFolder

    configs, data = [], data_config(args)
    for method in args.method.split(","):
        args.method = method.strip()
        for seed in range(args.folds) if args.folds else [data.seed]:  # with folds, split seed s tests on fold s
            configs.append(config_from(args, replace(data, seed=seed)))
    if args.budget is not None:
        configs = budgeted(configs, args)
    pending, quick = {}, {}
    for config in configs:
        for (run, folder), (quick_run, _) in zip(experiment_runs(config, args.out),
                                                 experiment_runs(apply_preset(config, "quick"), args.out)):
            if not RunFolder(folder).is_finished:
                pending[folder] = run_job(run)
                quick[folder] = run_job(quick_run)
    announce(list(pending.values()), list(quick.values()) if configs[0].preset != "quick" else None,
             configs[0].device, args.yes, list(pending))
    results = []
    for config in configs:
        result = run_experiment(config, args.out, progress=not args.no_progress)
        print(summary(result, Path(result["run_dir"])), flush=True)
        results.append(result)
    if len(results) > 1:
        print(comparison(results))
    return 0


def budgeted(configs: list[ClassifierConfig], args: argparse.Namespace) -> list[ClassifierConfig]:
    """``run --budget``: every config planned within the budget on this machine (or with the plan its runs
    started with), each plan printed."""
    from chimeramix.experiments.budget import check_budget_overrides, describe_plan
    from chimeramix.experiments.costs import CostBook
    from chimeramix.experiments.pipeline import plan_experiment

    if args.preset:
        raise ChimeraMixError("--budget replaces --preset: give one of them")
    check_budget_overrides({name: value for name in ("architecture", "epochs", "repetition", "checkpoint_every")
                            if (value := getattr(args, name)) is not None}, {})
    book = CostBook.of_this_machine(device_kind(configs[0].device))
    planned = []
    for config in configs:
        config, kept = plan_experiment(config, args.budget, args.out, book)
        text = describe_plan(config)
        print(text.replace(":\n", " (kept from the runs it started):\n", 1) if kept else text, flush=True)
        planned.append(config)
    return planned


def comparison(results: list[dict[str, Any]]) -> str:
    """A small table of the methods' test accuracies, and where the generators' pictures are."""
    lines = ["", f"{'method':<40} {'accuracy':>9}  95 % interval"]
    for result in results:
        metrics = result["metrics"]
        low, high = accuracy_interval(metrics["accuracy"], metrics["num_test_images"])
        lines.append(f"{result['method']:<40} {100 * metrics['accuracy']:>8.2f}%  {100 * low:.1f}-{100 * high:.1f} % "
                     f"on {metrics['num_test_images']} test images")
    methods = {result["method"]: [r["metrics"]["accuracy"] for r in results if r["method"] == result["method"]]
               for result in results}
    for method, accuracies in methods.items():
        if len(accuracies) > 1:
            values = 100 * np.array(accuracies)
            lines.append(f"{method:<40} {values.mean():>8.2f}% ± {values.std(ddof=1):.2f} (mean ± sample std over "
                         f"{len(values)} folds)")
    pictures = sorted({result["config"]["generator"] for result in results if result["config"]["generator"]})
    lines += [f"generator pictures: {Path(folder) / '*.png'}" for folder in pictures]
    return "\n".join(lines)


def summary(result: dict[str, Any], run_dir: Path) -> str:
    """One paragraph: the method, its test accuracies, and where the result lies."""
    metrics = result["metrics"]
    config = result["config"]
    data = config["data"]
    parts = [f"accuracy {describe_accuracy(metrics['accuracy'], metrics['num_test_images'])}",
             f"macro accuracy {100 * metrics['macro_accuracy']:.2f} %"]
    if "top5_accuracy" in metrics:
        parts.append(f"top-5 {100 * metrics['top5_accuracy']:.2f} %")
    if "accuracy_cifair10_kept" in metrics:
        parts.append(f"on the {metrics['num_cifair10_kept']} images ciFAIR-10 keeps "
                     f"{100 * metrics['accuracy_cifair10_kept']:.2f} %")
    reused = ", reused: it had finished before" if result.get("reused") else ""
    network = f"{config['architecture']}, {result['parameters']:,} parameters, " if "parameters" in result else ""
    network += f"{config.get('precision') or 'fp32'}, "
    return (f"{result['method']} on {data['dataset']} (k = {data['k']}, seed {data['seed']}, "
            f"{config['preset']} preset, {network}{result['steps']} steps, {result['wall_seconds']:.0f} s{reused}): "
            f"{', '.join(parts)}\nresult: {run_dir / RESULT_FILE}")
