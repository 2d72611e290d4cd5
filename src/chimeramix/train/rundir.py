"""The run directory's bookkeeping that both trainers share.

A run directory holds ``config.json`` (written first), ``checkpoints/``, ``log.csv`` (one row per epoch)
and, last, ``result.json``: a run is finished iff ``result.json`` exists. Here: refusing a directory that
holds another run, resuming a run from its checkpoint, the CSV log, and the loss check that names the last
good checkpoint.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from chimeramix.config import RunConfig, differences, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write, read_json
from chimeramix.train.checkpoint import CONFIG_FILE, latest_checkpoint, load_checkpoint, read_run_config

RESULT_FILE = "result.json"
LOG_FILE = "log.csv"
RESUME_IGNORED = frozenset({"device", "data_root", "tensorboard", "fast"})
"""Config fields (at any depth) that may differ when a run is resumed: they do not change what it computes."""


def check_run_dir(config: RunConfig, run_dir: Path, resume: bool, kind: str) -> dict[str, Any] | None:
    """Refuse a run directory that holds another run (or this one when not ``resume``); the stored result
    of a finished run when resuming, else ``None``. ``kind`` names the run in messages (``classifier``)."""
    if not (run_dir / CONFIG_FILE).is_file():
        return None
    stored = to_dict(read_run_config(run_dir, type(config)))
    differing = [key for key in differences(stored, to_dict(config)) if key.split(".")[-1] not in RESUME_IGNORED]
    if differing:
        raise ChimeraMixError(
            f"{run_dir} holds a {kind} run with a different config ({', '.join(differing)}); choose "
            "another --out, or repeat that run's settings"
        )
    if not resume and (latest_checkpoint(run_dir) is not None or (run_dir / RESULT_FILE).is_file()):
        raise ChimeraMixError(f"{run_dir} already holds this run; pass --resume to continue it (or to read "
                              "its result), or choose another --out")
    if (run_dir / RESULT_FILE).is_file():
        result: dict[str, Any] = read_json(run_dir / RESULT_FILE)
        return result
    return None


class Resumable(Protocol):
    """What :func:`resume_progress` needs of a run (a classifier's or a generator's)."""

    run_dir: Path
    log: list[dict[str, Any]]
    start_epoch: int
    step: int
    seconds: float

    def checkpointed(self) -> dict[str, Any]:
        """The keyword arguments of ``save_checkpoint`` / ``load_checkpoint``: modules, optimisers, ..."""
        ...


def resume_progress(run: Resumable, map_location: torch.device) -> None:
    """Load the run's latest checkpoint into its objects (weights, optimisers, schedules, RNG states) and take
    its progress (log rows, epochs and steps done, training seconds); a run without a checkpoint starts anew."""
    state = load_checkpoint(run.run_dir, **run.checkpointed(), map_location=map_location)
    if state is not None:
        run.log, run.start_epoch, run.step, run.seconds = state["log"], state["epoch"], state["step"], state["seconds"]


def write_log(run_dir: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """The per-epoch log ``LOG_FILE`` as CSV with ``columns``, rewritten atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(run_dir / LOG_FILE, lambda handle: handle.write(text.getvalue().encode()))


def check_losses(losses: Mapping[str, float], where: str, run_dir: Path) -> None:
    """Stop the run when a loss is not finite, naming it, ``where`` (``"in epoch 3"``) and the last good
    checkpoint to resume from."""
    for name, value in losses.items():
        if not math.isfinite(value):
            last = latest_checkpoint(run_dir)
            raise ChimeraMixError(
                f"the {name} loss became {value} {where}; the last good checkpoint is "
                f"{last or 'none (no checkpoint yet)'}: resume from it with --resume, or start a new run "
                "directory with a lower --lr"
            )
