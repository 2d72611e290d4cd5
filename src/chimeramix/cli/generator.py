"""``chimeramix generator train`` and ``chimeramix generator sample``."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from chimeramix.cli.common import RESUME_HINT, add_data_arguments, add_yes_argument, data_config
from chimeramix.components.hooks import Composing, load_reference
from chimeramix.components.registry import components
from chimeramix.errors import ChimeraMixError
from chimeramix.resolution import apply_preset
from chimeramix.rundir import RESULT_FILE, RunFolder
from chimeramix.runkinds import composing_kind, composing_kinds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    generator = subparsers.add_parser("generator", help="train a ChimeraMix generator, or sample from one")
    actions = generator.add_subparsers(dest="generator_command", required=True, metavar="ACTION")
    _register_train(actions)
    _register_sample(actions)


def _register_train(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``generator train``: the run, the options every kind shares and those of each generating kind of run that
    method components declare (``--kind``)."""
    composing = composing_kinds()
    default = next(iter(composing))
    train = actions.add_parser("train", help="train a mixing generator (or a method's generating first run, "
                                             "--kind) on one split")
    add_data_arguments(train)
    train.add_argument("--kind", choices=tuple(composing), default=default,
                       help="; ".join(f"{option}: {kind.title} (for {', '.join(_methods_of(name))})"
                                      for option, (name, kind) in composing.items()) + f" (default {default})")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run directory")
    train.add_argument("--preset", choices=("paper", "quick"), default="paper",
                       help="paper: the full protocol; quick: a short CPU-sized run (default: paper)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    overrides = train.add_argument_group("overrides of the protocol's values")
    overrides.add_argument("--epochs", type=int)
    overrides.add_argument("--batch-size", type=int)
    overrides.add_argument("--repetition", type=int, metavar="R", help="R of the repetition max(R // k, 1)")
    overrides.add_argument("--lr", type=float, help="initial learning rate (default: the kind's)")
    overrides.add_argument("--checkpoint-every", type=int, metavar="EPOCHS")
    overrides.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    overrides.add_argument("--no-amp", action="store_true",
                           help="float32 throughout: no bf16 autocast (on CUDA and on CPUs with native bf16)")
    overrides.add_argument("--fast", action="store_true",
                           help="the fast GPU path (CUDA graphs; same computation, see benchmarks/RESULTS.md)")
    overrides.add_argument("--tensorboard", action="store_true", help="also log the losses for TensorBoard")
    overrides.add_argument("--no-progress", action="store_true", help="no progress bar (a line per epoch instead)")
    for _, kind in composing.values():
        kind.add_arguments(train)
    add_yes_argument(train)
    train.set_defaults(handler=run_train, interrupt_hint=RESUME_HINT)


def _register_sample(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``generator sample``: a picture of a trained generator's compositions."""
    sample = actions.add_parser("sample", help="a picture of compositions by a trained generator")
    sample.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="finished generator run")
    sample.add_argument("--n", type=int, default=16, help="pairs, one per row (default 16)")
    sample.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="picture to write")
    sample.add_argument("--seed", type=int, default=0, help="chooses the pairs and masks (default 0)")
    sample.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    sample.set_defaults(handler=run_sample)


SHARED_OPTIONS = ("epochs", "batch_size", "repetition", "lr", "checkpoint_every", "device")
"""The options of ``generator train`` that every kind shares, each setting the config field of its name."""


def config_from(args: argparse.Namespace) -> Any:
    """The run config the options of ``generator train`` describe: the ``--kind``'s (its preset, then its own
    options: :attr:`Composing.from_arguments`), then the shared options given."""
    kinds = composing_kinds()
    _check_options(args, kinds)
    config = kinds[args.kind][1].from_arguments(args, data_config(args))
    values: dict[str, Any] = {name: getattr(args, name) for name in SHARED_OPTIONS if getattr(args, name) is not None}
    if args.no_amp:
        values["amp"] = False
    values.update({name: True for name in ("tensorboard", "fast") if getattr(args, name)})
    return replace(config, **values)


def _check_options(args: argparse.Namespace, kinds: dict[str, tuple[str, Composing]]) -> None:
    """Refuse the options of another kind than ``--kind``'s (ChimeraMix's ``--mask`` with another kind), naming them."""
    own = _options_of(kinds[args.kind][1])
    foreign = [(action, option) for option, (_, kind) in kinds.items() if option != args.kind
               for action in _options_of(kind).values() if action.dest not in own
               and getattr(args, action.dest, action.default) != action.default]
    if foreign:
        given = ", ".join(f"{action.option_strings[0]} (--kind {option})" for action, option in foreign)
        raise ChimeraMixError(f"generator train --kind {args.kind} takes none of {given}; drop them, or pass the "
                              "--kind they belong to")


def _options_of(kind: Composing) -> dict[str, argparse.Action]:
    """The options a kind adds to ``generator train``, by destination."""
    scratch = argparse.ArgumentParser(add_help=False)
    kind.add_arguments(scratch)
    return {action.dest: action for action in scratch._actions}


def _methods_of(kind: str) -> list[str]:
    """The method components (built-in and plug-in) whose first run is of ``kind``."""
    return [name for name, component in components().items() if component.first_run == kind]


def run_train(args: argparse.Namespace) -> int:
    from chimeramix.cli.classifier import announce
    from chimeramix.experiments.costs import cost_key, record_cost
    from chimeramix.experiments.jobs import run_job
    from chimeramix.train.trainers import train_pack

    _, composing = composing_kinds()[args.kind]
    config = config_from(args)
    if not RunFolder(args.out).is_finished:
        quick = apply_preset(config, "quick")
        announce([run_job(config)], [run_job(quick)], config.device, args.yes, [args.out] if args.resume else None)
    started = time.perf_counter()
    result = train_pack([config], [args.out], resume=args.resume, progress=not args.no_progress)[0]
    record_cost(cost_key(config.KIND, result["config"]), result,
                time.perf_counter() - started)
    trained = "reused (it had finished before)" if result.get("reused") else "trained"
    precision = result["config"].get("precision") or "fp32"
    print(f"{composing.title} {trained} ({result['epochs']} epochs, {result['steps']} steps, {precision}, "
          f"{result['wall_seconds']:.0f} s): {composing.summary(result['first_epoch'], result['final'])}\n"
          f"result: {args.out / RESULT_FILE}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from chimeramix.runtime import select_device
    from chimeramix.viz import save_png

    kind = composing_kind(args.run_dir)
    assert kind.composing is not None
    device = select_device(args.device)
    save_png(load_reference(kind.composing.sampler)(args.run_dir, args.n, args.seed, device), args.out)
    print(f"{args.n} {kind.composing.sample_rows} written to {args.out}")
    return 0
