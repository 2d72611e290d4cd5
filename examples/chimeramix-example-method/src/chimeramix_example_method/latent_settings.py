"""``latent-mix``'s first run as a kind of run of its own, ``autoencoder``: its config, how it resolves, the run a
``latent-mix`` classifier needs (under a time budget: the budget's steps), and its options of ``chimeramix
generator train --kind autoencoder``. No PyTorch here (the hooks import this module when chimeramix first asks for
them); the trainer is :mod:`chimeramix_example_method.latent_trainer`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from chimeramix.budget import epochs_and_repetition
from chimeramix.config import ClassifierConfig, DataConfig, RunBookkeeping, protocol_for
from chimeramix.config.roles import SWEEP, role_field
from chimeramix.resolution import apply_preset, first_run_of, num_classes, resolve_data

BATCH_SIZE = 64
"""The batch size where none is given."""
BUDGET_FIELDS = ("epochs", "repetition", "checkpoint_every")
"""What a time budget decides of an autoencoder run (``RunKind.budget``): the steps it plans, as epochs."""


@dataclass
class AutoencoderConfig(RunBookkeeping):
    """A small convolutional autoencoder fitted to the split's training images by mean squared error: two
    stride-2 convolutions down to codes of 2 x ``channels`` maps at a quarter of the side, two transposed ones
    back up."""

    KIND: ClassVar[str] = "autoencoder"
    QUICK: ClassVar[dict[str, Any]] = {"epochs": 4, "repetition": 20, "checkpoint_every": 2, "channels": 16}
    """The quick preset: a narrower network, about a hundred steps at k = 10."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    channels: int = 32
    epochs: int = 60
    batch_size: int | None = None
    """``None``: :data:`BATCH_SIZE`."""
    repetition: int | None = None
    """R in ``max(R // k, 1)``; ``None``: the protocol's generator repetition."""
    lr: float = 1e-3
    """Adam's learning rate."""


def resolve(config: AutoencoderConfig) -> AutoencoderConfig:
    """Fill the unset fields (the data's, the batch size, the repetition)."""
    config = replace(config, data=resolve_data(config.data))
    return replace(config, batch_size=config.batch_size or BATCH_SIZE,
                   repetition=config.repetition or protocol_for(config.data).generator_repetition)


def stage_one_config(classifier: ClassifierConfig) -> AutoencoderConfig:
    """The autoencoder a ``latent-mix`` classifier needs: the classifier's data, preset and machine; under a time
    budget, the epochs of the steps its plan gives the first run (``BudgetConfig.generator_steps``)."""
    config = first_run_of(AutoencoderConfig, classifier)
    if classifier.budget is None:
        return config
    data = resolve_data(classifier.data)
    return replace(config, data=data, **epochs_and_repetition(classifier.budget.generator_steps,
                                                              data.k * num_classes(data.dataset), data.k,
                                                              config.batch_size or BATCH_SIZE))


def budget_summary(config: AutoencoderConfig) -> str:
    """A budgeted autoencoder's network in the printed plan."""
    return f"{config.channels} channels, batch {config.batch_size or BATCH_SIZE}"


def cost_part(config: AutoencoderConfig) -> str:
    """What a step's time depends on: the image size, the width and the batch."""
    return f"{protocol_for(config.data).image_size}px-{config.channels}ch-b{config.batch_size}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The autoencoder's option of ``generator train`` (the shared ones, ``--epochs``, ``--lr``..., apply too)."""
    group = parser.add_argument_group("latent-mix autoencoder (--kind autoencoder, an example plug-in)")
    group.add_argument("--ae-channels", type=int, metavar="C", help="channels of the first convolution (32)")


def from_arguments(args: argparse.Namespace, data: DataConfig) -> AutoencoderConfig:
    """The config its option of ``generator train --kind autoencoder`` describes (preset, then the option; the
    command line applies the shared ones)."""
    config = apply_preset(AutoencoderConfig(data=data), args.preset)
    return config if args.ae_channels is None else replace(config, channels=args.ae_channels)


def summary(first: Mapping[str, float], final: Mapping[str, float]) -> str:
    """The losses of a finished autoencoder run (``generator train``)."""
    return f"reconstruction error {first['mse']:.4f} in the first epoch, {final['mse']:.4f} in the last"
