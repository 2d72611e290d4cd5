"""Training the mixing generator (paper section 3.1, supplement C.1): its run state, opened from a config.

The step is :class:`~chimeramix.methods.chimeramix.objective.AdversarialObjective` (one generator step, then one
discriminator step); the batches are same-class pairs (:mod:`chimeramix.methods.chimeramix.pairs`); the loop is
:func:`chimeramix.train.loop.train_runs`. Both networks use Adam; the learning rate is multiplied by
``lr_gamma`` after 30/60/80 % of the steps (epochs 60/120/160 of 200 in the paper).

An epoch is the k x C training images repeated ``max(R // k, 1)`` times in an order that is a pure function of
(seed, epoch); partners, flips, crops, masks and coins come from one seeded ``torch.Generator`` whose state is
checkpointed, so ``resume`` continues a run exactly. The run folder (:mod:`chimeramix.rundir`) holds the
config, checkpoints, log, pictures, the final weights of G and D, and last ``result.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

import torch

from chimeramix.checkpoint import save_weights
from chimeramix.data import repetition
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.objective import AdversarialObjective
from chimeramix.methods.chimeramix.pairs import PairBatches, PairData, load_pair_data
from chimeramix.methods.chimeramix.pictures import STATS_PAIRS, generator_stats, write_pictures
from chimeramix.methods.chimeramix.segments import AugmentedSegments
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.protocol import steps_per_epoch
from chimeramix.rundir import RunFolder
from chimeramix.runtime import (
    adam_options,
    autocast,
    autocast_dtype,
    make_rng,
    run_precision,
    seed_everything,
    select_device,
    stream_seed,
)
from chimeramix.train.run import TrainingRun, check_run_dir, modules_of, pack_key_of
from chimeramix.train.trainers import train_pack

MIN_WORKING_SIZE = 32
PAIR_STREAM = 1
"""Seed stream of the pair RNG (partners, flips, crops, masks, coins); weights use the plain seed."""


@dataclass(kw_only=True)
class GeneratorRun(TrainingRun):
    """One generator run while it trains: its pair data and batches besides the shared run state."""

    kind: ClassVar[str] = "generator"
    data: PairData
    batches: PairBatches

    @property
    def generator(self) -> MixingGenerator:
        return self.objective.generator  # type: ignore[return-value]

    @property
    def discriminator(self) -> PatchDiscriminator:
        return self.objective.discriminator  # type: ignore[return-value]

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.batches(positions, self.rng)

    def log_row(self, epoch: int, means: dict[str, float]) -> dict[str, Any]:
        return {"lr": self.schedulers["generator"].get_last_lr()[0]}

    def on_checkpoint(self) -> None:
        write_pictures(self.generator, self.config, self.data, self.folder)

    def result(self) -> dict[str, Any]:
        """Writes the final weights; the first and last epochs' mean losses, how varied the final compositions are
        (:func:`~chimeramix.methods.chimeramix.pictures.generator_stats`: a collapsed generator shows) and, for
        segments of the
        fed images, how many were computed and reused, and the seconds: their cost."""
        save_weights(self.generator, self.folder.weights("generator"))
        save_weights(self.discriminator, self.folder.weights("discriminator"))
        names = self.loss_names
        segments = self.data.segments
        self.generator.eval()
        return {"final": {name: self.log[-1][name] for name in names} if self.log else {},
                "first_epoch": {name: self.log[0][name] for name in names} if self.log else {},
                "compositions": generator_stats(self.generator, self.config, self.data, STATS_PAIRS,
                                                self.config.data.seed),
                **({"segmentation": segments.stats()} if isinstance(segments, AugmentedSegments) else {})}

    def checkpointed(self) -> dict[str, Any]:
        return {"modules": modules_of(self.objective), "optimizers": self.optimizers,
                "schedulers": self.schedulers, "rngs": {"train": self.rng}}


def pack_key(config: GeneratorConfig) -> dict[str, Any]:
    """What generator runs of one training pack share: the resolved config without its packable fields."""
    return pack_key_of(resolve_generator(config), GeneratorConfig)


def open_generator_run(
    config: GeneratorConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
) -> GeneratorRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (from its latest checkpoint when ``resume``); the
    stored result instead when ``resume`` finds the run finished. A run folder that holds another config,
    or a run when ``resume`` is off, is refused."""
    config = resolve_generator(config)
    folder = RunFolder(run_dir)
    finished = check_run_dir(config, folder, resume, "generator")
    if finished is not None:
        return finished
    device = select_device(config.device)
    config = replace(config, precision=run_precision(config, device))
    if config.batch_size is None or config.repetition is None or config.working_size is None:
        raise ValueError("open_generator_run resolves the config first")
    if config.working_size < MIN_WORKING_SIZE or config.working_size % 4:
        raise ChimeraMixError(f"the generator's working size must be a multiple of 4 of at least {MIN_WORKING_SIZE} "
                              f"px (the discriminator halves it four times), got {config.working_size}; pass "
                              "--working-size 32 or more")
    data = load_pair_data(config, folder, device)
    repeats = repetition(config.data.k, config.repetition)
    total_steps = steps_per_epoch(len(data.images), repeats, config.batch_size) * config.epochs
    seed_everything(config.data.seed)
    steps_autocast = partial(autocast, device.type, autocast_dtype(config.precision), not config.fast)
    objective = AdversarialObjective(MixingGenerator.from_config(config).to(device),
                                     PatchDiscriminator(architecture=config.discriminator or "paper").to(device),
                                     config, steps_autocast)
    optimizers, schedulers = _optimizers(objective, config, device, total_steps)
    rng = make_rng(stream_seed(config.data.seed, PAIR_STREAM), device)
    if not folder.config_file.is_file():
        folder.write_config(config, device)
    run = GeneratorRun(config=config, folder=folder, device=device, objective=objective, optimizers=optimizers,
                       schedulers=schedulers, rng=rng, count=len(data.images), repeats=repeats, data=data,
                       batches=PairBatches(config, data))
    run.start(resume)
    return run


def _optimizers(objective: AdversarialObjective, config: GeneratorConfig, device: torch.device, total_steps: int
                ) -> tuple[dict[str, torch.optim.Optimizer], dict[str, torch.optim.lr_scheduler.LRScheduler]]:
    """Adam for G and D (capturable on the fast path) and their step schedules: the lr is multiplied by
    ``lr_gamma`` after the ``lr_milestones`` fractions of ``total_steps``."""
    milestones = sorted({round(fraction * total_steps) for fraction in config.lr_milestones})
    optimizers: dict[str, torch.optim.Optimizer] = {}
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
    for name, module in (("generator", objective.generator), ("discriminator", objective.discriminator)):
        optimizers[name] = torch.optim.Adam(module.parameters(), lr=config.lr, betas=config.betas,
                                            weight_decay=float(config.weight_decay or 0.0),
                                            **adam_options(device, config.fast))
        schedulers[name] = torch.optim.lr_scheduler.MultiStepLR(optimizers[name], milestones, config.lr_gamma)
    return optimizers, schedulers


def train_generator(
    config: GeneratorConfig, run_dir: str | os.PathLike[str], *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train a mixing generator into ``run_dir`` and return its result (also written to ``result.json``).

    ``resume=True`` continues from the latest checkpoint (or returns the stored result of a finished run);
    a run folder that holds another config, or a run when ``resume`` is off, is refused.
    """
    return train_pack([config], [run_dir], resume=resume, progress=progress)[0]

