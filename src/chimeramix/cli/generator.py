"""``chimeramix generator train`` and ``chimeramix generator sample``."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from chimeramix.cli.common import RESUME_HINT, add_data_arguments, add_yes_argument, data_config
from chimeramix.components.hooks import Composing, load_reference
from chimeramix.components.registry import declared_run_kinds
from chimeramix.config import GeneratorConfig, MaskConfig
from chimeramix.resolution import apply_preset
from chimeramix.rundir import RESULT_FILE, RunFolder

OVERRIDES = ("epochs", "batch_size", "repetition", "lr", "weight_decay", "architecture", "discriminator", "blocks",
             "mix_after", "base_channels", "working_size", "input_crop", "checkpoint_every", "device", "recipe")
"""Config fields that have a command-line option of the same name."""
MASK_OVERRIDES = ("grid_cells", "region_choice", "images", "min_images", "weights", "concentration", "partition")
"""Mask config fields that have a command-line option of the same name."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    generator = subparsers.add_parser("generator", help="train a ChimeraMix generator, or sample from one")
    actions = generator.add_subparsers(dest="generator_command", required=True, metavar="ACTION")
    _register_train(actions)
    _register_sample(actions)


def _register_train(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``generator train``: the run, the protocol's values it overrides, multi-image mixing and the options of the
    generating runs that method components declare."""
    composing = _composing_kinds()
    train = actions.add_parser("train", help="train a mixing generator (or a method's generating first run, "
                                             "--kind) on one split")
    add_data_arguments(train)
    train.add_argument("--kind", choices=("chimeramix", *composing), default="chimeramix",
                       help="chimeramix: the mixing generator with its discriminator (default); "
                            + "; ".join(f"{name}: {kind.title} (for method {name})"
                                        for name, kind in composing.items()))
    train.add_argument("--mask", choices=("grid", "seg"), default="grid",
                       help="mask kind: a grid, or segmentation regions (default grid)")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run directory")
    train.add_argument("--preset", choices=("paper", "quick"), default="paper",
                       help="paper: the full protocol; quick: a short CPU-sized run (default: paper)")
    train.add_argument("--recipe", choices=("paper", "released"), default=None,
                       help="paper: the paper's text; released: the authors' code (default: paper; see README)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    overrides = train.add_argument_group("overrides of the protocol's values")
    overrides.add_argument("--epochs", type=int)
    overrides.add_argument("--batch-size", type=int)
    overrides.add_argument("--repetition", type=int, metavar="R", help="R of the repetition max(R // k, 1)")
    overrides.add_argument("--lr", type=float, help="initial learning rate (default 2e-4)")
    overrides.add_argument("--weight-decay", type=float,
                           help="Adam weight decay (default: the recipe's; paper 5e-4, released code 0)")
    overrides.add_argument("--architecture", choices=("paper", "released"),
                           help="paper: residual blocks after the mix run; released: none do, 2x2 upsampling "
                                "(default: the recipe's)")
    overrides.add_argument("--discriminator", choices=("paper", "released"),
                           help="released: zero-padded before the last conv, 4x4 patches at 64 px")
    overrides.add_argument("--blocks", type=int, help="residual blocks (default 4)")
    overrides.add_argument("--mix-after", type=int, metavar="BLOCKS", help="mix after this block (default 2)")
    overrides.add_argument("--base-channels", type=int, help="channels of the first conv (default 64)")
    overrides.add_argument("--working-size", type=int, metavar="PX",
                           help="side at which the generator works (default: 64 px for 32 px data)")
    overrides.add_argument("--input-crop", type=int, metavar="PX",
                           help="reflect padding of a random crop of the inputs (default: the recipe's)")
    _add_mask_arguments(train, overrides)
    overrides.add_argument("--checkpoint-every", type=int, metavar="EPOCHS")
    overrides.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    overrides.add_argument("--no-amp", action="store_true",
                           help="float32 throughout: no bf16 autocast (on CUDA and on CPUs with native bf16)")
    overrides.add_argument("--fast", action="store_true",
                           help="the fast GPU path (CUDA graphs; same computation, see benchmarks/RESULTS.md)")
    overrides.add_argument("--tensorboard", action="store_true", help="also log the losses for TensorBoard")
    for kind in composing.values():
        kind.add_arguments(train)
    overrides.add_argument("--no-progress", action="store_true", help="no progress bar (a line per epoch instead)")
    add_yes_argument(train)
    train.set_defaults(handler=run_train, interrupt_hint=RESUME_HINT)


def _add_mask_arguments(train: argparse.ArgumentParser, overrides: argparse._ArgumentGroup) -> None:
    """The masks' options: grid and regions (overrides of the protocol's values), multi-image mixing."""
    overrides.add_argument("--grid-cells", type=int, help="grid mask cells per side (default 4)")
    overrides.add_argument("--grid-shift", action="store_true",
                           help="shift the grid by a random offset per batch, as the released code does")
    overrides.add_argument("--region-choice", choices=("paper", "released"),
                           help="each segment with probability 0.5 (paper), or an id range (released)")
    multi = train.add_argument_group("multi-image mixing (beyond the paper; see README)")
    multi.add_argument("--images", type=int, metavar="N", help="images per composition (default 2: ChimeraMix)")
    multi.add_argument("--min-images", type=int, metavar="N",
                       help="draw N per batch from MIN..--images (default: always --images)")
    multi.add_argument("--weights", choices=("hard", "soft"),
                       help="each cell or region to one image (hard, default), or Dirichlet weights (soft)")
    multi.add_argument("--concentration", type=float, metavar="ALPHA", help="Dirichlet concentration (default 1)")
    multi.add_argument("--partition", choices=("first", "random"),
                       help="whose segments are the regions: the first image's (default) or a random one's")


def _register_sample(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``generator sample``: a picture of a trained generator's compositions."""
    sample = actions.add_parser("sample", help="a picture of compositions by a trained generator")
    sample.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="finished generator run")
    sample.add_argument("--n", type=int, default=16, help="pairs, one per row (default 16)")
    sample.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="picture to write")
    sample.add_argument("--seed", type=int, default=0, help="chooses the pairs and masks (default 0)")
    sample.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    sample.set_defaults(handler=run_sample)


def _composing_kinds() -> dict[str, Composing]:
    """The generating kinds of run that method components declare, by name: ``generator train --kind NAME``."""
    return {name: kind.composing for name, kind in declared_run_kinds().items() if kind.composing is not None}


def config_from(args: argparse.Namespace) -> GeneratorConfig:
    """The generator config the arguments describe (preset, then the given overrides)."""
    data = data_config(args)
    masks: dict[str, Any] = {name: getattr(args, name) for name in MASK_OVERRIDES if getattr(args, name) is not None}
    if args.grid_shift:
        masks["grid_shift"] = True
    config = apply_preset(GeneratorConfig(data=data, masks=MaskConfig(kind=args.mask, **masks)), args.preset)
    values: dict[str, Any] = {name: getattr(args, name) for name in OVERRIDES
                              if getattr(args, name) is not None}
    if args.no_amp:
        values["amp"] = False
    if args.tensorboard:
        values["tensorboard"] = True
    if args.fast:
        values["fast"] = True
    return replace(config, **values)


def run_train(args: argparse.Namespace) -> int:
    from chimeramix.cli.classifier import announce
    from chimeramix.experiments.costs import cost_key, record_cost
    from chimeramix.experiments.jobs import run_job
    from chimeramix.train.trainers import train_pack

    composing = _composing_kinds().get(args.kind)
    config = composing.from_arguments(args, data_config(args)) if composing is not None else config_from(args)
    if not RunFolder(args.out).is_finished:
        quick = apply_preset(config, "quick")
        announce([run_job(config)], [run_job(quick)], config.device, args.yes, [args.out] if args.resume else None)
    started = time.perf_counter()
    result = train_pack([config], [args.out], resume=args.resume, progress=not args.no_progress)[0]
    record_cost(cost_key(config.KIND, result["config"]), result,
                time.perf_counter() - started)
    final, first = result["final"], result["first_epoch"]
    trained = "reused (it had finished before)" if result.get("reused") else "trained"
    precision = result["config"].get("precision") or "fp32"
    losses = composing.summary(first, final) if composing is not None else (
        f"reconstruction loss {first['rec']:.4f} in the first epoch, {final['rec']:.4f} in the last; Laplacian "
        f"{final['lap']:.4f}, adversarial {final['adv']:.4f}, discriminator {final['loss_d']:.4f}")
    print(f"{composing.title if composing is not None else 'generator'} {trained} ({result['epochs']} epochs, "
          f"{result['steps']} steps, {precision}, {result['wall_seconds']:.0f} s): {losses}\n"
          f"result: {args.out / RESULT_FILE}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from chimeramix.methods.chimeramix.frozen_generator import generator_config, load_generator
    from chimeramix.methods.chimeramix.pairs import load_pair_data
    from chimeramix.methods.chimeramix.pictures import compositions_picture
    from chimeramix.runtime import select_device
    from chimeramix.viz import save_png

    device = select_device(args.device)
    kind = declared_run_kinds().get(RunFolder(args.run_dir).kind or "")
    if kind is not None and kind.composing is not None:
        save_png(load_reference(kind.composing.sampler)(args.run_dir, args.n, args.seed, device), args.out)
        print(f"{args.n} {kind.composing.sample_rows} written to {args.out}")
        return 0
    config = generator_config(args.run_dir)
    generator = load_generator(args.run_dir, device)
    data = load_pair_data(config, RunFolder(args.run_dir), device)
    save_png(compositions_picture(generator, config, data, args.n, args.seed), args.out)
    print(f"{args.n} pairs (x1, x2, three compositions) written to {args.out}")
    return 0
