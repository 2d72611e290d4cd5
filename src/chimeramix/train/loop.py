"""THE training loop: 1..G runs of any trainer, in lock-step, on the reference path or the fast path.

Every trainer (classifier, mixing generator, and those that build on them) is a
:class:`~chimeramix.train.run.TrainingRun` whose :class:`~chimeramix.train.objective.Objective` takes one step;
:func:`train_runs` does everything else, in one place for all of them:

- one run trains its own modules; G runs (a *training pack*) train as one vmapped model
  (:class:`RunGroup`, :mod:`chimeramix.train.stacking`), handed back to each run at every epoch's end so that
  its checkpoints, pictures and result are its own;
- the fast path (``config.fast``): the step as a CUDA graph (:class:`~chimeramix.train.fast.GraphedFunction`),
  batches prepared on a side stream, and for a lone run channels-last modules and inputs (a pack's inputs are
  5-D); on a CPU the fast path is the reference path, and a lone run is channels-last on either path (its
  convolutions are 5-15 % faster so, in float32 and bf16: ``benchmarks/steps.py --device cpu``);
- NaN checks after every step on the reference path (the fast path does not wait for every step's losses: it
  checks per epoch, as every path does), progress bars, the per-epoch log, checkpoints (``end_epoch``), and
  the result (``finish``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from tqdm import tqdm

from chimeramix.progress import NOTICE, progress_bar
from chimeramix.train.fast import GraphedFunction, SideStream
from chimeramix.train.run import TrainingRun, check_losses, interrupted_note
from chimeramix.train.stacking import (
    StackedModules,
    hand_back_optimizer,
    pack_optimizer,
    pack_scheduler,
    stack_batches,
)

LOG = logging.getLogger("chimeramix.train")
"""One INFO line per epoch (the command line shows them when the progress bar is off)."""


class RunGroup:
    """1..G runs of one trainer kind and one config (up to the fields that may differ inside a pack) that
    step together: ``group.step(*group.batch(positions))`` is one step of every run."""

    def __init__(self, runs: Sequence[TrainingRun]) -> None:
        if not runs:
            raise ValueError("a run group needs at least one run")
        self.runs = list(runs)
        first = self.runs[0]
        for run in self.runs:
            run.pack_size = len(self.runs)
        self.step_function = type(first.objective).step
        self.channels_last = len(self.runs) == 1 and (first.device.type == "cpu" or first.config.fast)
        self.module: Any
        if len(self.runs) == 1:
            self.module = first.objective
            self.optimizers = first.optimizers
            self.schedulers = first.schedulers
            if self.channels_last:
                to_channels_last(first.objective, first.optimizers.values())
            return
        objectives = [run.objective for run in self.runs]
        self.module = StackedModules(objectives)
        self.optimizers, self.pairs = {}, {}
        for name in first.optimizers:
            self.optimizers[name], self.pairs[name] = pack_optimizer(
                [run.optimizers[name] for run in self.runs], objectives, self.module)
        optimizer_names = {id(optimizer): name for name, optimizer in first.optimizers.items()}
        self.schedulers = {name: pack_scheduler(scheduler, self.optimizers[optimizer_names[id(scheduler.optimizer)]])
                           for name, scheduler in first.schedulers.items()}

    @property
    def description(self) -> str:
        first = self.runs[0]
        return first.kind if len(self.runs) == 1 else f"{first.kind} x{len(self.runs)}"

    def train(self) -> None:
        """Training mode for every module (evaluation may have switched a run's modules off it)."""
        self.module.train()

    def batch(self, positions: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Every run's batch for its positions (from its own RNG); stacked ``G x ...`` for a pack."""
        if len(self.runs) == 1:
            batch = self.runs[0].batch(positions[0])
            if self.channels_last:
                batch = tuple(_channels_last(tensor) for tensor in batch)
            return batch
        return stack_batches([run.batch(where) for run, where in zip(self.runs, positions)])

    def step(self, *batch: torch.Tensor) -> torch.Tensor:
        """One step of every run; the losses as G x L."""
        losses = self.step_function(self.module, self.optimizers, *batch)
        return losses.reshape(len(self.runs), -1)

    def step_schedulers(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()
        for run in self.runs:
            run.step += 1

    def hand_back(self) -> None:
        """A pack's weights, optimiser states and schedules back into each run's own objects."""
        if len(self.runs) == 1:
            return
        self.module.unstack_into([run.objective for run in self.runs])
        for name, optimizer in self.optimizers.items():
            hand_back_optimizer(optimizer, [run.optimizers[name] for run in self.runs], self.pairs[name])
        for name, scheduler in self.schedulers.items():
            for run in self.runs:
                run.schedulers[name].load_state_dict(scheduler.state_dict())


def train_runs(runs: Sequence[TrainingRun], *, progress: bool = True) -> list[dict[str, Any]]:
    """Train opened runs (at the same epoch) to their last epoch as one group; returns their results."""
    group = RunGroup(runs)
    first = group.runs[0]
    fast = bool(first.config.fast)
    step = GraphedFunction(group.step, optimizers=group.optimizers.values()) if fast else group.step
    batches = SideStream(first.device, enabled=fast)
    bar = progress_bar(group.description, first.total_steps, first.step, enabled=progress)
    try:
        for epoch in range(first.start_epoch, first.epochs):
            started = time.perf_counter()
            group.train()
            totals = torch.zeros(len(group.runs), len(first.loss_names), device=first.device)
            for positions in zip(*(run.epoch_batches(epoch) for run in group.runs), strict=True):
                losses = step(*batches.run(partial(group.batch, positions)))
                group.step_schedulers()
                totals += losses
                bar.update(1)
                if not fast:
                    check_step(group.runs, losses, epoch, bar)
            group.hand_back()
            seconds = time.perf_counter() - started
            means = [run.end_epoch(epoch, total, seconds) for run, total in zip(group.runs, totals)]
            show_losses(bar, means[0])
            losses = ", ".join(f"{name} {value:.4g}" for name, value in means[0].items())
            LOG.info("%s: epoch %d/%d, step %d/%d, %s, %.0f s", group.description, epoch + 1, first.epochs,
                     first.step, first.total_steps, losses, first.seconds)
    except KeyboardInterrupt:
        bar.close()  # its line ends before anything else is said
        for run in group.runs:
            NOTICE.info("%s", interrupted_note(run))
        raise
    bar.close()
    return [run.finish() for run in group.runs]


def check_step(runs: Sequence[TrainingRun], losses: torch.Tensor, epoch: int, bar: tqdm) -> None:
    """Stop at the first non-finite loss of any run, naming the step; show the first run's losses."""
    for run, values in zip(runs, losses.tolist()):
        named = dict(zip(run.loss_names, values))
        check_losses(named, f"at step {run.step} (epoch {epoch + 1})", run.run_dir)
    show_losses(bar, dict(zip(runs[0].loss_names, losses[0].tolist())))


def show_losses(bar: tqdm, values: dict[str, float]) -> None:
    """The losses beside the progress bar."""
    bar.set_postfix({name: f"{value:.4g}" for name, value in values.items()}, refresh=False)


def _channels_last(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() == 4 and tensor.is_floating_point():
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def to_channels_last(module: torch.nn.Module, optimizers: Any) -> None:
    """Convert a module's 4-D weights to channels-last, and the optimiser state that mirrors them."""
    module.to(memory_format=torch.channels_last)
    for optimizer in optimizers:
        for parameter, state in optimizer.state.items():
            for key, value in state.items():
                if torch.is_tensor(value) and value.dim() == 4 and value.shape == parameter.shape:
                    state[key] = value.contiguous(memory_format=torch.channels_last)
