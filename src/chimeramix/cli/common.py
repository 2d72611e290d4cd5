"""Argument helpers shared by the command groups."""

from __future__ import annotations

import argparse
import re

from chimeramix.errors import ChimeraMixError


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


def parse_int_list(text: str) -> list[int]:
    """``"5,10,20"`` -> [5, 10, 20]; ``"0-4"`` -> [0, 1, 2, 3, 4]; mixtures like ``"0-2,7"`` too."""
    values: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
        if match is None:
            raise ChimeraMixError(f"cannot read {text!r} as a list of integers; write e.g. 5,10,20 or 0-4")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        values.extend(range(low, high + 1))
    return values
