"""The objectives: one training step per trainer kind, for one run or a pack of runs.

An objective is an ``nn.Module`` holding everything a trainer trains (what a pack stacks) whose forward pass
returns the losses, plus a static :meth:`Objective.step` that takes one optimiser step over a batch. The step
is written once for lone runs and packs: it receives the objective itself (one run) or its
:class:`~chimeramix.train.stacking.StackedModules` (G runs, inputs ``G x ...``), sums the per-run losses for
the backward pass (each run's gradient reaches only its own weights) and returns the losses, detached:
``len(loss_names)`` values per run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn


class Objective(nn.Module, ABC):
    """What the training loop needs of a trainer's step."""

    loss_names: ClassVar[tuple[str, ...]]
    """The names of the losses :meth:`step` returns, in order (log columns)."""

    @staticmethod
    @abstractmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        """One optimiser step over ``batch``; returns the losses (``len(loss_names)`` per run), detached."""


def parameters_of(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """Every parameter ``optimizer`` steps."""
    return [parameter for group in optimizer.param_groups for parameter in group["params"]]
