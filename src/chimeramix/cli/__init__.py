"""The ``chimeramix`` command line: parses arguments, calls the library, turns errors into one line.

Each sub-module registers one command group (``register(subparsers)``) and handles it; nothing below the
command line prints to the user or exits.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from chimeramix.errors import ChimeraMixError
from chimeramix.version import __version__

COMMAND_MODULES: tuple[str, ...] = ("data", "generator", "classifier", "experiments")
"""Modules of ``chimeramix.cli``, one per command group, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chimeramix",
        description="Train image classifiers on small datasets with ChimeraMix and the paper's baselines.",
    )
    parser.add_argument("--version", action="version", version=f"chimeramix {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"chimeramix.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chimeramix`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ChimeraMixError as error:
        print(f"chimeramix: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chimeramix: interrupted; rerun the same command with --resume to continue", file=sys.stderr)
        return 130
