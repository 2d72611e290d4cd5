"""The ``chimeramix`` command line: parses arguments, calls the library, turns errors into one line.

Each sub-module registers one command group (``register(subparsers)``) and handles it; nothing below the
command line prints to the user or exits.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from chimeramix.errors import ChimeraMixError
from chimeramix.version import __version__

COMMAND_MODULES: tuple[str, ...] = ("data", "generator", "classifier", "experiments", "model", "analysis")
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
    """Entry point of the ``chimeramix`` console script; returns the exit code.

    Errors a user can act on end in one line and exit code 2; Ctrl-C, and SIGTERM (what a job scheduler
    sends), stop the command the same way, with exit code 130 and what resumes it.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logger, handler = logging.getLogger("chimeramix"), logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    logger.addHandler(handler)  # warnings (about the data, ...) always; with --no-progress a line per epoch too
    level = logger.level
    logger.setLevel(logging.INFO if getattr(args, "no_progress", False) else logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.handler(args) or 0)
    except ChimeraMixError as error:
        print(f"chimeramix: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"chimeramix: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = getattr(args, "interrupt_hint", None) or "nothing is left half-written; rerun the same command"
        print(f"chimeramix: interrupted; {hint}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        logger.removeHandler(handler)
        logger.setLevel(level)


class LineFormatter(logging.Formatter):
    """Log records as the command line prints them: ``chimeramix: warning: ...`` for warnings, else the
    message alone."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"chimeramix: warning: {message}" if record.levelno >= logging.WARNING else message


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def describe_os_error(error: OSError) -> str:
    """One line for a failed file operation: what, where, and the fix."""
    path = error.filename or "a file"
    reason = error.strerror or str(error)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write {path} ({reason}); choose a location you can write to (another --out, --store, "
                "--data-root or output file)")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left to write {path} ({reason}); free some disk space and rerun the same command: "
                "finished runs and the last checkpoint of an interrupted one are kept")
    if error.errno == errno.ENOENT:
        return f"{path} does not exist ({reason}); check the path"
    return f"{reason} ({path}); check the path and its permissions, then rerun the same command"
