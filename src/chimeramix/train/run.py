"""A run while it trains: the state every trainer shares, and its bookkeeping in the run folder.

:class:`TrainingRun` is what the training loop (:mod:`chimeramix.train.loop`) drives: the run's objective,
optimisers and schedules, its RNG, its data order, and its progress (log rows, epochs and steps done, training
seconds). A trainer subclasses it with its data (:meth:`TrainingRun.batch`), its log columns and its result;
everything else happens here, once for every trainer: refusing a folder that holds another run, resuming
from the latest checkpoint, the per-epoch log and loss check, checkpoints, TensorBoard, ``result.json``.
"""

from __future__ import annotations

import csv
import io
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from chimeramix.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from chimeramix.config import MACHINE, PACKABLE, RunConfig, differences, fields_with_role, flatten, to_dict
from chimeramix.data import epoch_order
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write
from chimeramix.progress import NOTICE
from chimeramix.protocol import steps_per_epoch
from chimeramix.rundir import RunFolder
from chimeramix.runtime import environment
from chimeramix.train.objective import Objective


@dataclass(kw_only=True)
class TrainingRun(ABC):
    """One run of any trainer while it trains (see the module docstring)."""

    kind: ClassVar[str]
    """``classifier``, ``generator``, ...: the run's name in messages and progress bars."""

    config: Any
    folder: RunFolder
    device: torch.device
    objective: Objective
    """Every module the run trains, and its step (what a pack stacks)."""
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]
    rng: torch.Generator
    """The run's random numbers for batches, augmentation and masks (checkpointed)."""
    count: int
    """Images in the training subset."""
    repeats: int
    """Repetitions of the subset per epoch, ``max(R // k, 1)``."""
    log: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0
    step: int = 0
    seconds: float = 0.0
    """Training seconds so far (over every attempt)."""
    pack_size: int = 1
    """Runs trained together with this one as one batched model, itself included."""
    board: Any = None
    """A TensorBoard writer, when the config asks for one."""

    # ------------------------------------------------------------------------------------------- the trainer

    @abstractmethod
    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The inputs of one step of :attr:`objective` for the training-subset positions ``positions``,
        drawn from :attr:`rng`."""

    def log_row(self, epoch: int, means: dict[str, float]) -> dict[str, Any]:
        """Columns of the epoch's log row besides the mean losses, ``step`` and ``seconds``."""
        return {}

    def result(self) -> dict[str, Any]:
        """The trainer's own entries of ``result.json`` (metrics, final losses, ...)."""
        return {}

    def on_checkpoint(self) -> None:  # noqa: B027 (an optional hook: nothing to do by default)
        """Called after every checkpoint (e.g. to draw pictures)."""

    @abstractmethod
    def checkpointed(self) -> dict[str, Any]:
        """What a checkpoint of the run holds, as the keyword arguments of ``save_checkpoint``."""

    # --------------------------------------------------------------------------------------------- progress

    @property
    def run_dir(self) -> Path:
        return self.folder.path

    @property
    def epochs(self) -> int:
        return int(self.config.epochs)

    @property
    def per_epoch(self) -> int:
        """Steps per epoch."""
        return steps_per_epoch(self.count, self.repeats, int(self.config.batch_size))

    @property
    def total_steps(self) -> int:
        return self.per_epoch * self.epochs

    @property
    def loss_names(self) -> tuple[str, ...]:
        return self.objective.loss_names

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        """The training-subset positions of every step of ``epoch`` (a pure function of seed and epoch)."""
        order = epoch_order(self.config.data.seed, epoch, self.count, self.repeats)
        return list(torch.from_numpy(order).to(self.device).split(int(self.config.batch_size)))

    def end_epoch(self, epoch: int, totals: torch.Tensor, seconds: float) -> dict[str, float]:
        """Close ``epoch`` (0-based), whose summed losses are ``totals`` and which took ``seconds``: check and
        log the mean losses (with the trainer's columns), write a checkpoint when one is due; returns the
        means."""
        means = dict(zip(self.loss_names, (totals / self.per_epoch).tolist()))
        first_step = self.step - self.per_epoch + 1
        check_losses(means, f"in epoch {epoch + 1} (steps {first_step}-{self.step})", self.run_dir)
        started = time.perf_counter()
        row = {"epoch": epoch + 1, "step": self.step, **self.log_row(epoch, means), **means}
        self.seconds += seconds + time.perf_counter() - started
        self.log.append({**row, "seconds": round(self.seconds, 3)})
        write_log(self.folder.log_file, self.log)
        if self.board is not None:
            for name, value in means.items():
                self.board.add_scalar(f"{self.kind}/{name}", value, epoch + 1)
        if (epoch + 1) % self.config.checkpoint_every == 0 or epoch + 1 == self.epochs:
            save_checkpoint(self.run_dir, **self.checkpointed(),
                            state={"epoch": epoch + 1, "step": self.step, "seconds": self.seconds, "log": self.log})
            self.on_checkpoint()
        return means

    def finish(self) -> dict[str, Any]:
        """Write ``result.json`` (the trainer's entries, the run's progress, config and environment); returns
        it as a reader of the finished run sees it."""
        if self.board is not None:
            self.board.close()
        started = time.perf_counter()
        own = self.result()
        self.seconds += time.perf_counter() - started
        return self.folder.write_result({
            **own,
            "epochs": self.epochs,
            "steps": self.step,
            "log": self.log,
            "wall_seconds": round(self.seconds, 3),
            "pack_size": self.pack_size,
            "config": to_dict(self.config),
            "environment": environment(self.device),
        })

    def resume(self) -> None:
        """Load the latest checkpoint into the run's objects (weights, optimisers, schedules, RNG states) and
        take its progress; a run without a checkpoint starts anew."""
        state = load_checkpoint(self.run_dir, **self.checkpointed(), map_location=self.device)
        if state is not None:
            self.log, self.start_epoch, self.step, self.seconds = (state["log"], state["epoch"], state["step"],
                                                                   state["seconds"])
            NOTICE.info("%s %s: resumed from its checkpoint after epoch %d of %d (step %d of %d)", self.kind,
                        self.run_dir, self.start_epoch, self.epochs, self.step, self.total_steps)

    def open_board(self) -> None:
        """Start TensorBoard logging when the config asks for it."""
        if getattr(self.config, "tensorboard", False):
            self.board = tensorboard_writer(self.folder.tensorboard)

    def start(self, resume: bool) -> None:
        """Ready a just-opened run to train: its last checkpoint when ``resume``, then TensorBoard."""
        if resume:
            self.resume()
        self.open_board()


# ------------------------------------------------------------------------------------------- the run folder


def check_run_dir(config: RunConfig, folder: RunFolder, resume: bool, kind: str) -> dict[str, Any] | None:
    """Refuse a run folder that holds another run (or this one when not ``resume``); the stored result of a
    finished run when resuming (marked ``"reused": True``), else ``None``. Fields with the ``machine`` role may
    differ."""
    if not folder.config_file.is_file():
        return None
    stored = to_dict(folder.read_config(type(config)))
    machine = fields_with_role(type(config), MACHINE)
    differing = [key for key in differences(stored, to_dict(config)) if key not in machine]
    if differing:
        raise ChimeraMixError(
            f"{folder.path} holds a {kind} run with a different config ({', '.join(differing)}); choose "
            "another --out, or repeat that run's settings"
        )
    if not resume and (latest_checkpoint(folder.path) is not None or folder.is_finished):
        raise ChimeraMixError(f"{folder.path} already holds this run; pass --resume to continue it (or to read "
                              "its result), or choose another --out")
    return {**folder.read_result(), "reused": True} if folder.is_finished else None


def write_log(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """The per-epoch log as CSV (columns: the first row's keys), rewritten atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda handle: handle.write(text.getvalue().encode()))


def interrupted_note(run: TrainingRun) -> str:
    """What an interruption of ``run`` leaves: the checkpoint a rerun resumes from, or none (it starts over)."""
    checkpoint = latest_checkpoint(run.run_dir)
    if checkpoint is None:
        return (f"{run.kind} {run.run_dir}: interrupted at step {run.step} of {run.total_steps}, before its first "
                "checkpoint: a rerun starts it at step 0")
    return (f"{run.kind} {run.run_dir}: interrupted at step {run.step} of {run.total_steps}; a rerun resumes from its "
            f"checkpoint {checkpoint.name}")


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


def tensorboard_writer(log_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ChimeraMixError("TensorBoard logging needs the tensorboard package; install it with "
                              "`pip install 'chimeramix[tensorboard]'` or drop --tensorboard") from error
    return SummaryWriter(log_dir=str(log_dir))


def pack_key_of(config: Any, cls: type) -> dict[str, Any]:
    """The dotted fields of a resolved config that the runs of one training pack must share: all but those
    with the ``packable`` role."""
    packable = fields_with_role(cls, PACKABLE)
    return {key: value for key, value in flatten(to_dict(config)).items() if key not in packable}


def modules_of(objective: nn.Module) -> dict[str, nn.Module]:
    """The objective's direct sub-modules by name (what checkpoints save as separate weight files)."""
    return dict(objective.named_children())
