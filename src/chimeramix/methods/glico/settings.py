"""GLICO's stage 1 as a kind of run: its config (:class:`GlicoConfig`), how it resolves, the stage-1 run a ``glico``
classifier needs, and its options of ``chimeramix generator train --kind glico``. No PyTorch here: the hooks
(:mod:`.hooks`) import this module when the registry first asks for them."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from chimeramix.config import ClassifierConfig, DataConfig, RunBookkeeping, protocol_for
from chimeramix.config.roles import SWEEP, role_field
from chimeramix.resolution import apply_preset, first_run_of, resolve_data


@dataclass
class GlicoConfig(RunBookkeeping):
    """Stage 1 of GLICO (Azuri & Weinshall 2020; ``shared/docs/baselines.md`` section 2): a unit-norm latent
    code per training image (no encoder), a noise code, a generator G and an auxiliary classifier C, trained on
    the split's images only with ``d(G(z_i, code), x_i) + gamma * CE(C(G(z_i, code)), y_i)``."""

    KIND: ClassVar[str] = "glico"
    QUICK: ClassVar[dict[str, Any]] = {"epochs": 8, "repetition": 60, "checkpoint_every": 4, "batch_size": 32}
    """The quick preset: about 150 steps at batch 32 (k = 10), the CPU-sized stage 1 (20-30 s on 2 cores)."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    latent_dim: int = 512
    noise_dim: int = 100
    noise_std: float = 0.15
    noise_projection: bool = True
    """Pass the noise code through a bias-free linear layer and LeakyReLU (the CIFAR-100 recipe's flag)."""
    distance: Literal["laplacian", "l1", "perceptual"] = "laplacian"
    """The reconstruction distance d: L1 plus ChimeraMix's Laplacian-pyramid L1 (default: no pretrained weights
    are needed), plain L1, or L1 plus VGG-16 features (``perceptual_weights``, as GLICO's own code)."""
    perceptual_weights: str | None = None
    """A torchvision VGG-16 state dict (``distance="perceptual"``); the protocol allows no extra data, so it is
    the user's choice to supply ImageNet weights."""
    gamma: float = 0.5
    epochs: int = 200
    batch_size: int | None = None
    """``None``: 128 up to 64 px, 32 above (GLICO's values)."""
    repetition: int | None = None
    """R in ``max(R // k, 1)``; ``None``: the protocol's generator repetition."""
    lr: float = 1e-3
    """Adam learning rate of the latent codes; the generator's is ``generator_lr_factor`` times it."""
    generator_lr_factor: float = 0.7
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay_every: float = 0.35
    """The fraction of training after which the Adam learning rates are multiplied by ``lr_decay`` (70 of
    GLICO's 202 epochs)."""
    lr_decay: float = 0.5
    classifier_lr: float = 0.1
    classifier_latent_lr: float = 1e-3
    """The latent codes' learning rate in the auxiliary classifier's SGD, which holds them too (GLICO's code):
    each step moves the codes by their Adam and by this SGD, with the same gradient."""
    classifier_momentum: float = 0.9
    classifier_weight_decay: float = 1e-4


def resolve_glico(config: GlicoConfig) -> GlicoConfig:
    """Fill every ``None`` field from the dataset's protocol and GLICO's values; returns a new config."""
    config = replace(config, data=resolve_data(config.data))
    protocol = protocol_for(config.data)
    return replace(config, batch_size=config.batch_size or (128 if protocol.image_size <= 64 else 32),
                   repetition=config.repetition or protocol.generator_repetition)


def stage_one_config(classifier: ClassifierConfig) -> GlicoConfig:
    """The stage-1 run a ``glico`` classifier needs: the classifier's data, preset and machine."""
    return first_run_of(GlicoConfig, classifier)


def cost_part(config: GlicoConfig) -> str:
    """What a stage-1 step's time depends on: the image size and the batch."""
    return f"{protocol_for(config.data).image_size}px-b{config.batch_size}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """GLICO's options of ``generator train``."""
    glico = parser.add_argument_group("GLICO (--kind glico)")
    glico.add_argument("--distance", choices=("laplacian", "l1", "perceptual"), default=None,
                       help="reconstruction distance: L1 plus ChimeraMix's Laplacian-pyramid L1 (default), L1, or "
                            "L1 plus VGG-16 features from --perceptual-weights")
    glico.add_argument("--perceptual-weights", metavar="FILE", default=None,
                       help="a torchvision VGG-16 state dict (saved with torch.save) for --distance perceptual")
    glico.add_argument("--gamma", type=float, default=None, help="weight of the classification loss (0.5)")


OPTIONS = ("distance", "perceptual_weights", "gamma")
"""GlicoConfig fields that have an option of their own in ``generator train``, of the same name."""


def from_arguments(args: argparse.Namespace, data: DataConfig) -> GlicoConfig:
    """The stage-1 config its options of ``generator train --kind glico`` describe (preset, then those given)."""
    values = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    return replace(apply_preset(GlicoConfig(data=data), args.preset), **values)


def summary(first: Mapping[str, float], final: Mapping[str, float]) -> str:
    """The losses of a finished stage 1 (``generator train``)."""
    return (f"reconstruction distance {first['rec']:.4f} in the first epoch, {final['rec']:.4f} in the last; "
            f"classification loss {final['ce']:.4f}")
