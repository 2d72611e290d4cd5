"""Argument helpers shared by the command groups."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from chimeramix.config import DataConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.protocol import FOLDER_PREFIX
from chimeramix.resolution import resolve_data

RESUME_HINT = ("rerun the same command with --resume to continue from the run's last checkpoint (a run stopped "
               "before its first one starts over)")
RERUN_HINT = ("rerun the same command to continue: finished runs are reused, an interrupted one resumes from its "
              "last checkpoint (one stopped before its first starts over)")
SWEEP_HINT = ("rerun the same command to continue: finished jobs are kept, an interrupted one resumes from its "
              "last checkpoint (one stopped before its first starts over), and claims of stopped workers are "
              "taken over")
PREPARE_HINT = "rerun the same command: archives already downloaded and verified are kept"
"""What an interrupted command says; a command group sets ``interrupt_hint`` on its parsers."""


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--k``, ``--seed``, ``--data-root`` and the options of ``folder:`` datasets."""
    parser.add_argument("--dataset", default="cifar10", help="cifar10, cifair10, cifar100, cifair100, stl10 "
                        "or folder:PATH (default: cifar10)")
    parser.add_argument("--k", type=int, default=None,
                        help="training images per class (built-in datasets: required; folder:PATH: default "
                             "every training image of its smallest class)")
    parser.add_argument("--seed", type=int, default=0, help="split seed; the paper's splits are 0..4")
    add_data_root_argument(parser)
    add_folder_arguments(parser)


def add_folder_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``folder:`` datasets: image size, test split, unreadable files."""
    folder = parser.add_argument_group("folder:PATH datasets")
    folder.add_argument("--folder-image-size", type=int, default=None, metavar="PX",
                        help="side to which the images are resized (default: from the images: 32 px for small "
                             "images, 96 px with the STL-10 protocol for photos)")
    folder.add_argument("--folder-test-fraction", type=float, default=0.2, metavar="F",
                        help="held-out fraction of each class when PATH has no train/ and test/ (default 0.2)")
    folder.add_argument("--folds", type=int, default=0, metavar="N",
                        help="N-fold cross-validation instead of a held-out fraction: fold s is the test split "
                             "of split seed s")
    folder.add_argument("--skip-unreadable", action="store_true",
                        help="leave out files that cannot be read as images (they are listed) instead of stopping")


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None,
                        help="folder of prepared datasets (default: $CHIMERAMIX_DATA, else the user cache)")


def data_config(args: argparse.Namespace) -> DataConfig:
    """The resolved :class:`DataConfig` of the arguments that :func:`add_data_arguments` added; for a folder,
    what was chosen from its images is printed."""
    values = {"dataset": args.dataset, "seed": args.seed, "data_root": args.data_root,
              "folder_image_size": args.folder_image_size, "folder_test_fraction": args.folder_test_fraction,
              "folder_folds": args.folds, "skip_unreadable": args.skip_unreadable}
    if args.folds and args.seed:
        raise ChimeraMixError(f"--seed {args.seed} and --folds {args.folds} exclude each other: with --folds N the "
                              "split seeds are the folds 0..N-1; drop --seed")
    if not args.dataset.startswith(FOLDER_PREFIX):
        from chimeramix.data.datasets import check_dataset_name

        check_dataset_name(args.dataset)
        if args.k is None:
            raise ChimeraMixError(f"--k is required for {args.dataset} (training images per class, e.g. --k 10)")
        return resolve_data(DataConfig(k=args.k, **values))
    from chimeramix.data.folder import describe_split  # reads the folder: only for folder datasets

    data = resolve_data(DataConfig(k=args.k or 1, **values))
    text, smallest = describe_split(data)
    data = replace(data, k=args.k or smallest)
    print(f"{text}; k = {data.k} per class{'' if args.k else ' (every image of the smallest class; --k sets it)'}")
    if data.image_size_choice:
        print(f"image size: {data.image_size_choice}")
    return data


def add_budget_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=float, default=None, metavar="MINUTES",
                        help="plan every job (the generator it needs included) to finish within MINUTES on this "
                             "machine, from its measured step costs (a first run measures them); instead of "
                             "--preset. The plan is printed and saved with the runs")


LONG_RUN_S = 3 * 3600.0
"""On a CPU, runs estimated to take longer than this need a confirmation (or ``--yes``)."""


def add_yes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="start even when the estimate on a CPU is over 3 hours (no question asked)")


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def device_kind(device: str) -> str:
    """``cpu`` or ``cuda``: where runs on ``device`` (``auto``, ``cpu``, ``cuda:1``, ...) will compute."""
    if device != "auto":
        return "cuda" if device.startswith("cuda") else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_estimate(seconds: float, kind: str, yes: bool, quick_seconds: float | None) -> None:
    """On a CPU, ask before (or, without a terminal, refuse) work estimated at over :data:`LONG_RUN_S`,
    naming the preset that fits; ``--yes`` skips the question."""
    if kind != "cpu" or seconds <= LONG_RUN_S or yes:
        return
    quick = f"; --preset quick would take about {duration(quick_seconds)}" if quick_seconds is not None else ""
    message = f"this would take about {duration(seconds)} on this CPU (the paper preset needs a GPU){quick}"
    if sys.stdin.isatty():
        answer = input(f"chimeramix: {message}. Start it anyway? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return
    raise ChimeraMixError(f"{message}; pass --yes to start it anyway")
