"""Argument helpers shared by the command groups."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from chimeramix.config import DataConfig
from chimeramix.errors import ChimeraMixError

if TYPE_CHECKING:
    from chimeramix.experiments.plan import Job

RESUME_HINT = "rerun the same command with --resume to continue from the run's last checkpoint"
RERUN_HINT = ("rerun the same command to continue: finished runs are reused and interrupted ones resume from "
              "their last checkpoint")
SWEEP_HINT = ("rerun the same command to continue: finished jobs are kept, interrupted ones resume from their "
              "last checkpoint, and claims of stopped workers are taken over")
PREPARE_HINT = "rerun the same command: archives already downloaded and verified are kept"
"""What an interrupted command says; a command group sets ``interrupt_hint`` on its parsers."""


def add_data_arguments(parser: argparse.ArgumentParser, *, k_required: bool = True) -> None:
    """``--dataset``, ``--k``, ``--seed``, ``--data-root``, ``--folder-image-size``."""
    parser.add_argument("--dataset", default="cifar10", help="cifar10, cifair10, cifar100, cifair100, stl10 "
                        "or folder:PATH (default: cifar10)")
    parser.add_argument("--k", type=int, required=k_required, help="training images per class")
    parser.add_argument("--seed", type=int, default=0, help="split seed; the paper's splits are 0..4")
    add_data_root_argument(parser)
    parser.add_argument("--folder-image-size", type=int, default=32,
                        help="side to which folder: images are resized (default 32)")


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None,
                        help="folder of prepared datasets (default: $CHIMERAMIX_DATA, else the user cache)")


def data_config(args: argparse.Namespace) -> DataConfig:
    """The :class:`DataConfig` of the arguments that :func:`add_data_arguments` added."""
    return DataConfig(dataset=args.dataset, k=args.k, seed=args.seed, data_root=args.data_root,
                      folder_image_size=args.folder_image_size)


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


def estimate_seconds(jobs: list[Job], kind: str, step_seconds: dict[str, float] | None = None) -> float:
    """The jobs' cost one after another on this machine (measured costs first, see ``experiments.costs``)."""
    from chimeramix.experiments.costs import estimate_cost, load_costs

    return estimate_cost(jobs, kind, step_seconds, measured=load_costs(kind)).seconds


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
