"""A time budget instead of a guess: the scaling path from a budget of N minutes to the networks, the share of
the time a method's generator gets, and the arithmetic from planned steps to a config's epochs and repetition.

These are pure functions of a job's :class:`~chimeramix.config.BudgetConfig` (the minutes and the planned steps);
choosing the steps from this machine's measured costs is :mod:`chimeramix.experiments.budget`. A budgeted run
keeps the protocol's recipe (optimiser, learning rate, weight decay, batch size, augmentation, schedules) and
changes only what a CPU cannot afford:

- the classifier is the rung's WideResNet (WRN-16-2 on every rung so far) for as many steps as its time allows;
- the mixing generator works at the images' own size (32 px for CIFAR, not the paper's 64) with the rung's
  base width and a batch of 16, for ``generator_share`` of the budget, at the rung's learning rate (its
  milestones stay at 30/60/80 % of its steps);
- methods without a generator give the whole budget to the classifier, so a comparison at one budget is a
  comparison at equal wall time.

The rungs are calibrated by ``docs/budget/`` (CIFAR-10, k = 10, one CPU core per job).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chimeramix.config import BudgetConfig
from chimeramix.errors import ChimeraMixError

if TYPE_CHECKING:
    from chimeramix.components.hooks import FrontEnd


@dataclass(frozen=True)
class Rung:
    """One step of the scaling path: from ``minutes`` up, these networks and this share of the time."""

    minutes: float
    classifier_width: int
    """k of the classifier WRN-16-k (methods with a front end: its network of width k)."""
    generator_channels: int
    """The mixing generator's base channels C (paper: 64)."""
    generator_share: float
    """The fraction of the budget a method's generator trains for."""
    generator_lr: float
    """Adam's learning rate of generator and discriminator (paper: 2e-4 for 15,800 steps at batch 64)."""


SCALING_PATH: tuple[Rung, ...] = (
    Rung(minutes=0.0, classifier_width=2, generator_channels=16, generator_share=0.25, generator_lr=5e-4),
)
"""The rungs, by the smallest budget they serve (see the module docstring and ``docs/budget/``)."""

GENERATOR_BATCH = 16
MIN_GENERATOR_SIZE = 32
"""The smallest working size of the generator (its discriminator halves it four times)."""
MAX_EPOCHS = 40
"""A budgeted run's epochs at most: its steps are spread over repetitions of the subset beyond that, so that
checkpoints and log rows stay a few minutes apart at any budget."""
CHECKPOINTS = 8
"""About this many checkpoints per budgeted run (a crash loses at most an eighth of it)."""
PRESET = re.compile(r"(\d+(?:\.\d+)?)min")
GENERATOR_FIELDS = ("working_size", "base_channels", "batch_size", "lr", "epochs", "repetition", "checkpoint_every",
                    "budget")
"""The generator config fields a budget decides (:func:`generator_values`), which budgeted runs do not take as
overrides."""
CLASSIFIER_FIELDS = ("architecture", "epochs", "repetition", "checkpoint_every", "budget")
"""The classifier config fields a budget decides (:func:`classifier_values`)."""


def budget_preset(minutes: float) -> str:
    """The preset label of a budget, in run names, job ids and tables: ``20min``, ``2.5min``.

    >>> budget_preset(20), budget_preset(2.5)
    ('20min', '2.5min')
    """
    if not math.isfinite(minutes) or minutes <= 0:
        raise ChimeraMixError(f"a budget must be a positive number of minutes, got {minutes}; e.g. --budget 20")
    return f"{minutes:g}min"


def budget_minutes(preset: str) -> float | None:
    """The minutes of a budget preset label, or ``None`` for another preset (``paper``, ``quick``)."""
    match = PRESET.fullmatch(preset)
    return float(match.group(1)) if match else None


def rung_for(minutes: float) -> Rung:
    """The rung of the scaling path that serves a budget of ``minutes``."""
    return [rung for rung in SCALING_PATH if rung.minutes <= minutes][-1]


def generator_size(image_size: int) -> int:
    """The generator's working size under a budget: the images' own side (at least 32 px, a multiple of 4)."""
    return max(MIN_GENERATOR_SIZE, 4 * math.ceil(image_size / 4))


def epochs_and_repetition(steps: int, images: int, k: int, batch_size: int) -> dict[str, int]:
    """``epochs``, the repetition base ``R`` (``max(R // k, 1)`` passes over the subset per epoch) and
    ``checkpoint_every`` of a run of about ``steps`` steps over ``images`` training images (k per class).

    >>> epochs_and_repetition(30_000, images=100, k=10, batch_size=10)
    {'epochs': 40, 'repetition': 750, 'checkpoint_every': 5}
    """
    passes = max(1, steps * batch_size // images)  # rounded down, so that a plan stays within its budget
    repeats = math.ceil(passes / MAX_EPOCHS)
    epochs = max(1, passes // repeats)
    return {"epochs": epochs, "repetition": repeats * k, "checkpoint_every": max(1, epochs // CHECKPOINTS)}


def generator_values(budget: BudgetConfig, image_size: int, images: int, k: int) -> dict[str, Any]:
    """The generator config fields a budget sets: the rung's networks and learning rate, the working size, the
    batch, and the epochs for its planned steps."""
    rung = rung_for(budget.minutes)
    return {"working_size": generator_size(image_size), "base_channels": rung.generator_channels,
            "batch_size": GENERATOR_BATCH, "lr": rung.generator_lr,
            **epochs_and_repetition(budget.generator_steps, images, k, GENERATOR_BATCH)}


def classifier_architecture(minutes: float, front_end: FrontEnd | None) -> str:
    """The classifier network of a budget: WRN-16-k, or a front end's network of width k."""
    width = rung_for(minutes).classifier_width
    return front_end.name(width) if front_end is not None else f"wrn-16-{width}"


def classifier_values(budget: BudgetConfig, front_end: FrontEnd | None, images: int, k: int, batch_size: int
                      ) -> dict[str, Any]:
    """The classifier config fields a budget sets: the network and the epochs for its planned steps."""
    return {"architecture": classifier_architecture(budget.minutes, front_end),
            **epochs_and_repetition(budget.classifier_steps, images, k, batch_size)}
