"""ChimeraMix's generator as a kind of run of its own (paper section 3.1, supplement C.1): its config
(:class:`GeneratorConfig`), how it resolves, the generator a ChimeraMix classifier needs, what a step costs, and
its options of ``chimeramix generator train --kind chimeramix``. No PyTorch here: the hooks (:mod:`.hooks`) import
this module when the registry first asks for them."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from chimeramix.budget import generator_values
from chimeramix.components.registry import parse_method
from chimeramix.config import (
    Architecture,
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    MaskConfig,
    RunBookkeeping,
    protocol_for,
    resolve_masks,
    unset_values,
)
from chimeramix.config.roles import MACHINE, SWEEP, role_field
from chimeramix.protocol import Recipe, recipe_values
from chimeramix.resolution import apply_preset, num_classes, resolve_data


@dataclass
class GeneratorConfig(RunBookkeeping):
    """A ChimeraMix generator run (paper section 3.1, supplement C.1)."""

    KIND: ClassVar[str] = "generator"
    """The kind of run, as ``config.json``, a sweep's jobs and the cost keys record it."""
    QUICK: ClassVar[dict[str, Any]] = {"epochs": 8, "repetition": 30, "checkpoint_every": 4, "base_channels": 16,
                                       "batch_size": 16, "lr": 1e-3}
    """The quick preset: about 150 steps of a 4x narrower generator, at a 5x higher lr to make up for them (~2.5
    min on 1 CPU core)."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    masks: MaskConfig = role_field(None, factory=MaskConfig)
    recipe: Recipe = role_field("paper", SWEEP)
    architecture: Architecture | None = None
    """``paper``: residual blocks after the mix run, 3x3 upsampling; ``released``: none do, 2x2 bias-free."""
    discriminator: Architecture | None = None
    """``paper``: 3x3 patch map at 64 px; ``released``: zero-padded before the last conv, 4x4."""
    blocks: int = 4
    mix_after: int = 2
    base_channels: int = 64
    working_size: int | None = None
    input_crop: int | None = None
    """Reflect padding of the random crop of the generator's inputs (0: none; ``released``: 8 px at 64 px)."""
    # optimisation
    epochs: int = 200
    batch_size: int | None = None
    repetition: int | None = None
    """R in ``max(R // k, 1)``."""
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float | None = None
    lr_milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    """Fractions of training at which the lr is multiplied by ``lr_gamma`` (epochs 60/120/160 of 200)."""
    lr_gamma: float = 0.2
    w_rec: float = 1000.0
    w_lap: float = 1.0
    w_adv: float = 1.0
    discriminator_loss: Literal["mean", "sum"] | None = None
    """L_D as the mean (paper recipe) or the sum (released) of its real and fake terms."""
    discriminator_composite: Literal["reuse", "fresh"] | None = None
    """The composite x̂ the discriminator's step judges: the generator step's (paper recipe), or a fresh one
    under newly drawn masks by the just-updated generator (released, as the authors' code)."""
    budget: BudgetConfig | None = role_field(None, MACHINE)
    """The time-budget plan this run belongs to (``None``: a preset's run)."""

    @property
    def feature_size(self) -> int:
        """The side of the encoder's features (and of the masks): a quarter of the working side."""
        if self.working_size is None:
            raise ValueError("feature_size needs a config resolved by resolve_generator")
        return self.working_size // 4


def resolve_generator(config: GeneratorConfig) -> GeneratorConfig:
    """Fill every ``None`` field from the dataset's protocol and the recipe; returns a new config."""
    config = replace(config, data=resolve_data(config.data))
    protocol = protocol_for(config.data)
    working_size = config.working_size or protocol.generator_size
    resolved = replace(
        config,
        working_size=working_size,
        masks=resolve_masks(config.masks, config.recipe, protocol),
        batch_size=config.batch_size or protocol.generator_batch_size,
        repetition=config.repetition or (protocol.released_generator_repetition if config.recipe == "released"
                                         else protocol.generator_repetition),
    )
    return replace(resolved, **unset_values(resolved, recipe_values(config.recipe, "generator", working_size)))


def generator_config_for(config: ClassifierConfig) -> GeneratorConfig:
    """The generator config that a ChimeraMix classifier config needs: its data, recipe, preset, device,
    precision and path, the method's masks, and under a budget the budget's generator (networks and steps,
    :func:`chimeramix.budget.generator_values`)."""
    masks = parse_method(config.method).generator_masks
    generator = apply_preset(GeneratorConfig(data=config.data, masks=masks, recipe=config.recipe, device=config.device,
                                             amp=config.amp, precision=config.precision, fast=config.fast),
                             config.preset)
    if config.budget is None:
        return generator
    data = resolve_data(config.data)
    values = generator_values(config.budget, protocol_for(data).image_size, data.k * num_classes(data.dataset),
                              data.k)
    return replace(generator, data=data, budget=config.budget, **values)


def generator_problems(trained: GeneratorConfig, config: ClassifierConfig) -> list[str]:
    """What a finished generator was trained for that the classifier ``config`` (resolved) needs otherwise: the
    working size, the masks (kind, N and weights) and the recipe (the split is checked for every kind)."""
    wanted = resolve_generator(generator_config_for(config))
    problems = []
    if trained.working_size != wanted.working_size:
        problems.append(f"working size {trained.working_size} px (not {wanted.working_size})")
    masks = wanted.masks
    if (trained.masks.kind, trained.masks.images, trained.masks.weights) != (masks.kind, masks.images, masks.weights):
        problems.append(f"{trained.masks.label} masks (not {masks.label})")
    if trained.recipe != config.recipe:
        problems.append(f"the {trained.recipe} recipe (not {config.recipe})")
    return problems


def budget_summary(generator: GeneratorConfig) -> str:
    """A budgeted generator's networks in the printed plan."""
    return (f"{generator.working_size} px, {generator.base_channels} channels, batch {generator.batch_size}, "
            f"lr {generator.lr:g}")


def cost_part(generator: GeneratorConfig) -> str:
    """What a generator step's time depends on: its working size, width and batch."""
    return f"{generator.working_size}px-{generator.base_channels}ch-b{generator.batch_size}"


def compose_cost_variant(classifier: ClassifierConfig) -> str:
    """What a ChimeraMix classifier's step costs besides the network: the frozen generator's compositions (its
    working size and width)."""
    generator = resolve_generator(generator_config_for(classifier))
    return f"compose-{generator.working_size}px-{generator.base_channels}ch"


def masks_label(classifier: ClassifierConfig) -> str:
    """The masks of the generator a ChimeraMix classifier needs, in its jobs' ids: ``grid``, ``seg``, ``seg-n3``."""
    return parse_method(classifier.method).generator_masks.label


def method_label(config: GeneratorConfig) -> str:
    """The method a generator run serves, in the analysis's tables: ``ChimeraMix+Grid``, ``ChimeraMix+Seg``."""
    return f"ChimeraMix+{config.masks.kind.capitalize()}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's options of ``generator train`` (overrides of the protocol's and the recipe's values), and
    those of multi-image mixing."""
    generator = parser.add_argument_group("ChimeraMix's generator (--kind chimeramix)")
    generator.add_argument("--mask", choices=("grid", "seg"), default="grid",
                           help="mask kind: a grid, or segmentation regions (default grid)")
    generator.add_argument("--recipe", choices=("paper", "released"), default=None,
                           help="paper: the paper's text; released: the authors' code (default: paper; see README)")
    generator.add_argument("--weight-decay", type=float,
                           help="Adam weight decay (default: the recipe's; paper 5e-4, released code 0)")
    generator.add_argument("--architecture", choices=("paper", "released"),
                           help="paper: residual blocks after the mix run; released: none do, 2x2 upsampling "
                                "(default: the recipe's)")
    generator.add_argument("--discriminator", choices=("paper", "released"),
                           help="released: zero-padded before the last conv, 4x4 patches at 64 px")
    generator.add_argument("--blocks", type=int, help="residual blocks (default 4)")
    generator.add_argument("--mix-after", type=int, metavar="BLOCKS", help="mix after this block (default 2)")
    generator.add_argument("--base-channels", type=int, help="channels of the first conv (default 64)")
    generator.add_argument("--working-size", type=int, metavar="PX",
                           help="side at which the generator works (default: 64 px for 32 px data)")
    generator.add_argument("--input-crop", type=int, metavar="PX",
                           help="reflect padding of a random crop of the inputs (default: the recipe's)")
    generator.add_argument("--grid-cells", type=int, help="grid mask cells per side (default 4)")
    generator.add_argument("--grid-shift", action="store_true",
                           help="shift the grid by a random offset per batch, as the released code does")
    generator.add_argument("--region-choice", choices=("paper", "released"),
                           help="each segment with probability 0.5 (paper), or an id range (released)")
    multi = parser.add_argument_group("multi-image mixing (beyond the paper; see README)")
    multi.add_argument("--images", type=int, metavar="N", help="images per composition (default 2: ChimeraMix)")
    multi.add_argument("--min-images", type=int, metavar="N",
                       help="draw N per batch from MIN..--images (default: always --images)")
    multi.add_argument("--weights", choices=("hard", "soft"),
                       help="each cell or region to one image (hard, default), or Dirichlet weights (soft)")
    multi.add_argument("--concentration", type=float, metavar="ALPHA", help="Dirichlet concentration (default 1)")
    multi.add_argument("--partition", choices=("first", "random"),
                       help="whose segments are the regions: the first image's (default) or a random one's")


OPTIONS = ("weight_decay", "architecture", "discriminator", "blocks", "mix_after", "base_channels", "working_size",
           "input_crop", "recipe")
"""GeneratorConfig fields that have an option of its own in ``generator train``, of the same name."""
MASK_OPTIONS = ("grid_cells", "region_choice", "images", "min_images", "weights", "concentration", "partition")
"""MaskConfig fields that have an option of ``generator train`` of the same name."""


def from_arguments(args: argparse.Namespace, data: DataConfig) -> GeneratorConfig:
    """The generator config its options of ``generator train`` describe (preset, then those given)."""
    masks: dict[str, Any] = {name: getattr(args, name) for name in MASK_OPTIONS if getattr(args, name) is not None}
    if args.grid_shift:
        masks["grid_shift"] = True
    config = apply_preset(GeneratorConfig(data=data, masks=MaskConfig(kind=args.mask, **masks)), args.preset)
    return replace(config, **{name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None})


def summary(first: Mapping[str, float], final: Mapping[str, float]) -> str:
    """The losses of a finished generator run (``generator train``)."""
    return (f"reconstruction loss {first['rec']:.4f} in the first epoch, {final['rec']:.4f} in the last; Laplacian "
            f"{final['lap']:.4f}, adversarial {final['adv']:.4f}, discriminator {final['loss_d']:.4f}")
