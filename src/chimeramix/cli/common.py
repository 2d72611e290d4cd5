"""Argument helpers shared by the command groups."""

from __future__ import annotations

import argparse

from chimeramix.config import DataConfig

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
