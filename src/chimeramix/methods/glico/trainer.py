"""Training GLICO's stage 1 (latent codes, generator, auxiliary classifier): its run state, opened from a
config; the step is :class:`~chimeramix.methods.glico.objective.GlicoObjective`, the loop
:func:`chimeramix.train.loop.train_runs`.

Only the split's images are used (no unlabelled or test images: the protocol's "no additional data"; GLICO's
own recipes fit codes to the test set too). An epoch is the k x C images repeated ``max(R // k, 1)`` times in
an order that is a pure function of (seed, epoch); the noise codes come from the run's checkpointed RNG. The
Adam learning rates are halved after every ``lr_decay_every`` of training (GLICO: every 70 of 202 epochs); the
classifier's SGD, which holds the codes too, keeps its rates (as GLICO's, which re-creates its schedule every
epoch). The run folder holds
the config, checkpoints, log, pictures (reconstructions, interpolations), ``glico.safetensors`` (codes and G),
``classifier.safetensors`` and last ``result.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch

from chimeramix.checkpoint import save_weights
from chimeramix.data import repetition
from chimeramix.data.subset import load_training_set
from chimeramix.methods.glico.distances import reconstruction_distance
from chimeramix.methods.glico.interpolation import load_glico
from chimeramix.methods.glico.networks import AuxiliaryClassifier, LatentGenerator, slerp
from chimeramix.methods.glico.objective import GlicoObjective
from chimeramix.methods.glico.settings import GlicoConfig, resolve_glico
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
    sgd_options,
    stream_seed,
)
from chimeramix.train.run import TrainingRun, check_run_dir, modules_of, pack_key_of
from chimeramix.train.trainers import train_pack
from chimeramix.viz import image_grid, save_png, to_uint8_images

NOISE_STREAM = 1
"""Seed stream of the noise codes (weights and codes are initialised from the plain seed)."""
PICTURE_PAIRS = 8
INTERPOLATION_STEPS = 6


@dataclass(kw_only=True)
class GlicoRun(TrainingRun):
    """One GLICO stage-1 run while it trains: the split's images and labels besides the shared state."""

    kind: ClassVar[str] = "glico"
    images: torch.Tensor
    """uint8 N x 3 x H x W."""
    labels: torch.Tensor

    @property
    def model(self) -> LatentGenerator:
        return self.objective.model  # type: ignore[return-value]

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        codes = noise_codes(len(positions), self.config, self.rng)
        return positions, codes, self.images[positions].float() / 255, self.labels[positions]

    def log_row(self, epoch: int, means: dict[str, float]) -> dict[str, Any]:
        return {"lr": self.schedulers["latents"].get_last_lr()[0]}

    def on_checkpoint(self) -> None:
        write_pictures(self.model, self.config, self.images, self.labels, self.folder)

    def result(self) -> dict[str, Any]:
        """Writes the codes and G, and the auxiliary classifier; the first and last epochs' mean losses."""
        save_weights(self.model, self.folder.weights("glico"))
        save_weights(modules_of(self.objective)["classifier"], self.folder.weights("classifier"))
        names = self.loss_names
        return {"final": {name: self.log[-1][name] for name in names} if self.log else {},
                "first_epoch": {name: self.log[0][name] for name in names} if self.log else {},
                "image_size": int(self.images.shape[-1]), "codes": len(self.images)}

    def checkpointed(self) -> dict[str, Any]:
        return {"modules": modules_of(self.objective), "optimizers": self.optimizers,
                "schedulers": self.schedulers, "rngs": {"noise": self.rng}}


def noise_codes(count: int, config: GlicoConfig, rng: torch.Generator) -> torch.Tensor:
    """``count`` noise codes ~ N(0, noise_std²) of ``noise_dim`` values."""
    return torch.randn(count, config.noise_dim, generator=rng, device=rng.device) * config.noise_std


def pack_key(config: GlicoConfig) -> dict[str, Any]:
    """What GLICO runs of one training pack share: the resolved config without its packable fields."""
    return pack_key_of(resolve_glico(config), GlicoConfig)


def open_glico_run(config: GlicoConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
                   ) -> GlicoRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (from its latest checkpoint when ``resume``); the
    stored result instead when ``resume`` finds the run finished."""
    config = resolve_glico(config)
    folder = RunFolder(run_dir)
    finished = check_run_dir(config, folder, resume, "glico")
    if finished is not None:
        return finished
    device = select_device(config.device)
    config = replace(config, precision=run_precision(config, device))
    if config.batch_size is None or config.repetition is None:
        raise ValueError("open_glico_run resolves the config first")
    distance = reconstruction_distance(config.distance, config.perceptual_weights)  # checks the weights first
    data = load_training_set(config.data, device)
    repeats = repetition(config.data.k, config.repetition)
    total_steps = steps_per_epoch(len(data.images), repeats, config.batch_size) * config.epochs
    seed_everything(config.data.seed)
    size = data.images.shape[-1]
    model = LatentGenerator(len(data.images), size, config.latent_dim, config.noise_dim,
                            config.noise_projection).to(device)
    classifier = AuxiliaryClassifier(data.num_classes, size).to(device)
    steps_autocast = partial(autocast, device.type, autocast_dtype(config.precision), not config.fast)
    objective = GlicoObjective(model, classifier, distance.to(device), config.gamma, steps_autocast)
    optimizers, schedulers = _optimizers(objective, config, device, total_steps)
    rng = make_rng(stream_seed(config.data.seed, NOISE_STREAM), device)
    if not folder.config_file.is_file():
        folder.write_config(config, device)
    run = GlicoRun(config=config, folder=folder, device=device, objective=objective, optimizers=optimizers,
                   schedulers=schedulers, rng=rng, count=len(data.images), repeats=repeats, images=data.images,
                   labels=data.labels)
    run.start(resume)
    return run


def _optimizers(objective: GlicoObjective, config: GlicoConfig, device: torch.device, total_steps: int
                ) -> tuple[dict[str, torch.optim.Optimizer], dict[str, torch.optim.lr_scheduler.LRScheduler]]:
    """Adam for the codes and for G (at ``generator_lr_factor`` times the rate), halved every
    ``lr_decay_every`` of training; SGD for the auxiliary classifier, which also holds the codes (at
    ``classifier_latent_lr``, as GLICO's code)."""
    model = objective.model
    rest = [parameter for name, parameter in model.named_parameters() if name != "latents"]
    adam = adam_options(device, config.fast)
    classifier_groups: list[dict[str, Any]] = [{"params": list(objective.classifier.parameters())},
                                               {"params": [model.latents], "lr": config.classifier_latent_lr}]
    optimizers: dict[str, torch.optim.Optimizer] = {
        "latents": torch.optim.Adam([model.latents], lr=config.lr, betas=config.betas, **adam),
        "generator": torch.optim.Adam(rest, lr=config.lr * config.generator_lr_factor, betas=config.betas, **adam),
        "classifier": torch.optim.SGD(classifier_groups, lr=config.classifier_lr, momentum=config.classifier_momentum,
                                      weight_decay=config.classifier_weight_decay,
                                      **sgd_options(device, config.fast)),
    }
    every = max(1, round(config.lr_decay_every * total_steps))
    milestones = list(range(every, total_steps, every))
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {
        name: torch.optim.lr_scheduler.MultiStepLR(optimizers[name], milestones, config.lr_decay)
        for name in ("latents", "generator")}
    return optimizers, schedulers


def train_glico(config: GlicoConfig, run_dir: str | os.PathLike[str], *, resume: bool = False,
                progress: bool = True) -> dict[str, Any]:
    """Train GLICO's stage 1 into ``run_dir``; returns its result (also written to ``result.json``)."""
    return train_pack([config], [run_dir], resume=resume, progress=progress)[0]


# -------------------------------------------------------------------------------------------------- pictures


def write_pictures(model: LatentGenerator, config: GlicoConfig, images: torch.Tensor, labels: torch.Tensor,
                   folder: RunFolder) -> None:
    """``reconstructions.png`` (images above G(z_i)) and ``interpolations.png``, fixed examples."""
    model.eval()
    seed = config.data.seed
    save_png(reconstructions_picture(model, config, images, PICTURE_PAIRS, seed), folder.picture("reconstructions"))
    save_png(interpolations_picture(model, config, images, labels, PICTURE_PAIRS, seed),
             folder.picture("interpolations"))
    model.train()


@torch.no_grad()
def reconstructions_picture(model: LatentGenerator, config: GlicoConfig, images: torch.Tensor, count: int,
                            seed: int) -> np.ndarray:
    """A row of training images above their reconstructions G(z_i, code)."""
    rng = make_rng(seed, images.device)
    positions = torch.randperm(len(images), generator=rng, device=images.device)[:count]
    rows = [to_uint8_images(images[positions].float() / 255, value_range=(0, 1)),
            to_uint8_images(model(positions, noise_codes(len(positions), config, rng)), value_range=(0, 1))]
    return image_grid(rows, scale=2)


@torch.no_grad()
def interpolations_picture(model: LatentGenerator, config: GlicoConfig, images: torch.Tensor,
                           labels: torch.Tensor, count: int, seed: int) -> np.ndarray:
    """Rows: x_i, G at t = 0 .. 1 along the slerp from z_i to the code of a same-class x_j, then x_j."""
    rng = make_rng(seed + 1, images.device)
    positions = torch.randperm(len(images), generator=rng, device=images.device)[:count]
    steps = torch.linspace(0, 1, INTERPOLATION_STEPS, device=images.device)
    strips = []
    for position, code in zip(positions, noise_codes(len(positions), config, rng)):
        partner = _same_class(int(position), labels, rng)
        z = slerp(steps, model.latents[position].expand(len(steps), -1), model.latents[partner].expand(len(steps), -1))
        generated = model.generate(z, code.expand(len(steps), -1))
        strip = torch.cat([images[position][None].float() / 255, generated, images[partner][None].float() / 255])
        strips.append(to_uint8_images(strip, value_range=(0, 1)))
    return image_grid(strips, scale=2)


def sample_picture(run_dir: str | os.PathLike[str], count: int, seed: int, device: torch.device) -> np.ndarray:
    """``interpolations_picture`` of a finished GLICO run (``chimeramix generator sample``)."""
    model, config = load_glico(run_dir, device)
    data = load_training_set(config.data, device)
    return interpolations_picture(model, config, data.images, data.labels, count, seed)


def _same_class(position: int, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Another image of the class of ``position`` (itself when it is alone)."""
    members = (labels == labels[position]).nonzero().flatten()
    others = members[members != position]
    pool = others if len(others) else members
    return pool[torch.randint(len(pool), (1,), generator=rng, device=rng.device)][0]
