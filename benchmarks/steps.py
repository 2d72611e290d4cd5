"""Steps per second of the reference path and the fast path, on one device, in one run (issue #6).

Measures, on synthetic ciFAIR-10-sized data (k = 10: 100 images of 32 px, 10 classes, epoch order as in
training), each with the protocol's batch size:

- classifier, baseline batches (crop + flip) and ChimeraMix+Grid batches (p = 0.5; a randomly initialised
  generator of the paper's architecture composes the replaced batches: speed does not depend on its weights);
- generator: one generator step plus one discriminator step at batch 64, 64 px, grid masks.

The reference path is the straightforward loop (eager, augmentation and step on one stream, the generator's
per-step loss check); the fast path is ``chimeramix.train.fast`` (CUDA graphs, side stream, fused or
capturable optimisers, channels-last classifier). Both run the same steps; only the launch differs.

A pack (``--pack G``, ``chimeramix.train.packed``) trains G runs in one batched step: its figure is ms per
pack step and run-steps/s (G / seconds per step), to compare with a lone run's steps/s.

    python benchmarks/steps.py                      # CUDA if available: WRN-16-8, 500 steps each, packs of 5
    python benchmarks/steps.py --device cpu --architecture wrn-16-2 --steps 20 --generator-steps 3
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from chimeramix.config import GeneratorConfig, resolve_generator
from chimeramix.data import SameClassPartners, epoch_order
from chimeramix.masks import GridMasks
from chimeramix.methods import Augmentation, PairMixing, channel_stats, parse_method
from chimeramix.models.classifiers import build_classifier
from chimeramix.models.discriminator import PatchDiscriminator
from chimeramix.models.generator import MixingGenerator
from chimeramix.runtime import autocast_dtype, environment, make_generator, select_device
from chimeramix.train.classifier import cosine_lr
from chimeramix.train.fast import (
    GraphedFunction,
    GraphedPairMixing,
    SideStream,
    adam_options,
    classifier_update,
    sgd_options,
)
from chimeramix.train.generator import (
    AdversarialObjective,
    feature_side,
    flip_where,
    to_generator_input,
    training_step,
)
from chimeramix.train.packed import StackedModules, packed_training_step, stack_batches

CLASSES = 10
K = 10
IMAGE_SIZE = 32
CLASSIFIER_BATCH = 10
CLASSIFIER_LR = 0.0046
REPETITION = 50


def synthetic_data(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """k x C random uint8 images and their labels (speed does not depend on the pixels)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(K * CLASSES, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    labels = np.repeat(np.arange(CLASSES), K)
    return torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)


def batch_positions(device: torch.device, batch_size: int, steps: int) -> list[torch.Tensor]:
    """Positions of ``steps`` batches in training order (epochs of the repeated subset)."""
    batches: list[torch.Tensor] = []
    epoch = 0
    while len(batches) < steps:
        order = torch.from_numpy(epoch_order(0, epoch, K * CLASSES, REPETITION)).to(device)
        batches += list(order.split(batch_size))
        epoch += 1
    return batches[:steps]


def timed(device: torch.device, run: Callable[[int], None], warmup: int, steps: int) -> float:
    """Seconds per step of ``run(step)`` over ``steps`` steps after ``warmup`` untimed ones."""
    for step in range(warmup):
        run(step)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for step in range(warmup, warmup + steps):
        run(step)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / steps


# -------------------------------------------------------------------------------------------------- classifier


def classifier_seconds(device: torch.device, architecture: str, method: str, fast: bool, warmup: int,
                       steps: int, pack: int = 1) -> float:
    """Seconds per training step of one run (``pack`` 1), or per step of a pack of ``pack`` runs (each with
    its own generator and augmentation RNG, as ``chimeramix.train.packed`` trains them)."""
    images, labels = synthetic_data(device)
    dtype = autocast_dtype(device, amp=True)
    mean, std = channel_stats(images)
    augmentations = []
    for _ in range(pack):
        mixing = None
        if parse_method(method).needs_generator:
            generator = MixingGenerator().to(device).eval()
            mixing = PairMixing(GridMasks(), mask_size=16, model=generator, working_size=64, autocast_dtype=dtype)
            if fast:
                mixing = GraphedPairMixing(mixing)
        augmentations.append(Augmentation(parse_method(method), images, labels, num_classes=CLASSES,
                                          crop_padding=4, cutout_size=16, mean=mean, std=std, pair_mixing=mixing))
    torch.manual_seed(0)
    models = [build_classifier(architecture, CLASSES, dropout=0.3).to(device) for _ in range(pack)]
    channels_last = fast and device.type == "cuda" and pack == 1
    if pack == 1:
        model: Callable[[torch.Tensor], torch.Tensor] = models[0].to(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.CrossEntropyLoss()
        parameters = list(models[0].parameters())
    else:
        model = stacked = StackedModules(models)
        criterion = StackedModules([nn.CrossEntropyLoss() for _ in range(pack)])
        parameters = list(stacked.parameters.values())
    optimizer = torch.optim.SGD(parameters, lr=CLASSIFIER_LR, momentum=0.9, nesterov=True,
                                weight_decay=0.0053, **(sgd_options(device) if fast else {}))
    total = warmup + steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, total, 1.0))
    update = classifier_update(model, criterion, optimizer, dtype, channels_last=channels_last)
    step_fn = GraphedFunction(update, optimizers=[optimizer]) if fast else update
    batches = SideStream(device, enabled=fast)
    rngs = [make_generator(1 + index, device) for index in range(pack)]
    positions = batch_positions(device, CLASSIFIER_BATCH, total)

    def batch(step: int) -> tuple[torch.Tensor, ...]:
        if pack == 1:
            return augmentations[0](positions[step], rngs[0])
        return stack_batches([augment(positions[step], rng) for augment, rng in zip(augmentations, rngs)])

    total_loss = torch.zeros(pack, device=device)

    def run(step: int) -> None:
        nonlocal total_loss
        inputs, targets = batches.run(partial(batch, step))
        total_loss += step_fn(inputs, targets)
        scheduler.step()

    return timed(device, run, warmup, steps)


# --------------------------------------------------------------------------------------------------- generator


def generator_seconds(device: torch.device, fast: bool, warmup: int, steps: int, pack: int = 1) -> float:
    """Seconds per G + D step of one run (``pack`` 1), or per step of a pack of ``pack`` runs."""
    config = resolve_generator(GeneratorConfig())
    size, batch_size = int(config.working_size or 64), int(config.batch_size or 64)
    images, labels = synthetic_data(device)
    partners = SameClassPartners(labels)
    dtype = autocast_dtype(device, config.amp)

    def autocast() -> AbstractContextManager[Any]:
        # The reference keeps autocast's weight cache; graph capture needs it off.
        return torch.autocast(device.type, dtype or torch.bfloat16, enabled=dtype is not None,
                              cache_enabled=not fast)

    torch.manual_seed(0)
    objectives = [AdversarialObjective(MixingGenerator.from_config(config).to(device),
                                       PatchDiscriminator().to(device), config, autocast) for _ in range(pack)]
    networks = ("generator", "discriminator")
    stacked = StackedModules(objectives) if pack > 1 else None
    parameters = {name: ([parameter for parameter, _ in stacked.parameter_pairs(objectives, f"{name}.")]
                         if stacked is not None else list(getattr(objectives[0], name).parameters()))
                  for name in networks}
    optimizers: dict[str, torch.optim.Optimizer] = {
        name: torch.optim.Adam(parameters[name], lr=config.lr, betas=config.betas, weight_decay=config.weight_decay,
                               **(adam_options(device) if fast else {}))
        for name in networks
    }
    gan_step = (partial(training_step, objectives[0], optimizers) if stacked is None
                else partial(packed_training_step, stacked, optimizers))
    total = warmup + steps
    schedulers = {name: torch.optim.lr_scheduler.MultiStepLR(optimizer, [total // 2], config.lr_gamma)
                  for name, optimizer in optimizers.items()}
    step_fn = GraphedFunction(gan_step, optimizers=optimizers.values()) if fast else gan_step
    grid = GridMasks(config.grid_cells, config.grid_p, config.grid_shift)
    rngs = [make_generator(index, device) for index in range(pack)]
    positions = batch_positions(device, batch_size, total)
    totals = torch.zeros((), device=device)

    def batch(step: int, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        first = positions[step]
        second = partners.sample(first, rng)
        flips = torch.rand(2, len(first), generator=rng, device=device) < 0.5
        mask = grid.sample(len(first), feature_side(config), rng)
        real_is_x1 = torch.rand((), generator=rng, device=device) < 0.5
        x1 = to_generator_input(flip_where(images[first], flips[0]), size)
        x2 = to_generator_input(flip_where(images[second], flips[1]), size)
        return x1, x2, mask, real_is_x1

    def run(step: int) -> None:
        nonlocal totals
        inputs = batch(step, rngs[0]) if pack == 1 else stack_batches([batch(step, rng) for rng in rngs])
        losses = step_fn(*inputs)
        if not fast:
            losses.tolist()  # the reference loop checks every step's losses on the host
        totals = totals + losses
        for scheduler in schedulers.values():  # outside the graph
            scheduler.step()

    return timed(device, run, warmup, steps)


# -------------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--architecture", default="wrn-16-8", help="classifier (default: the paper's)")
    parser.add_argument("--steps", type=int, default=500, help="timed classifier steps per measurement")
    parser.add_argument("--generator-steps", type=int, default=200, help="timed generator steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before each measurement")
    parser.add_argument("--pack", type=int, default=5,
                        help="also time packs of this many runs (default 5, a cell's splits; 1: no)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    device = select_device(args.device)
    parts: list[tuple[str, str | None, int]] = [("classifier baseline", "baseline", 1),
                                                ("classifier chimeramix-grid", "chimeramix-grid", 1)]
    if args.pack > 1:
        parts += [(f"classifier {method} pack of {args.pack}", method, args.pack)
                  for method in ("baseline", "chimeramix-grid")]
    parts.append(("generator", None, 1))
    if args.pack > 1:
        parts.append((f"generator pack of {args.pack}", None, args.pack))
    rows: list[dict[str, Any]] = []
    for part, method, pack in parts:
        seconds = {}
        for path in ("reference", "fast"):
            fast = path == "fast"
            if method is None:
                value = generator_seconds(device, fast, max(1, args.warmup // 4), args.generator_steps, pack)
            else:
                value = classifier_seconds(device, args.architecture, method, fast, args.warmup, args.steps, pack)
            seconds[path] = value
            rows.append({"part": part, "path": path, "pack": pack, "ms_per_step": 1000 * value,
                         "steps_per_s": 1 / value, "run_steps_per_s": pack / value})
            print(f"{part:40s} {path:9s} {1000 * value:9.2f} ms/step {pack / value:10.3f} run-steps/s", flush=True)
        print(f"{part:40s} speed-up  {seconds['reference'] / seconds['fast']:9.2f} x", flush=True)
    info = environment(device)
    print(f"device {info['device_name']} ({device}), torch {info['torch']}, commit {info['commit']}, "
          f"classifier {args.architecture}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"environment": info, "architecture": args.architecture, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
