"""``latent-mix``: its first run (an autoencoder fitted to the split, the kind ``autoencoder``) and the
classifier's compositions: each training image and a same-class partner encoded, their codes mixed with a weight
drawn per image, and the mix decoded. Built on chimeramix's training core as its own methods are: an
:class:`~chimeramix.train.objective.Objective` (the step), a :class:`~chimeramix.train.run.TrainingRun` (the run
state), trained by the one loop, so the run checkpoints, resumes, packs and logs like a built-in one."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.checkpoint import load_weights, save_weights
from chimeramix.data import repetition
from chimeramix.data.subset import load_training_set
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.frozen_run import ComposerContext
from chimeramix.rundir import RunFolder
from chimeramix.runtime import (
    adam_options,
    autocast,
    autocast_dtype,
    make_rng,
    run_precision,
    seed_everything,
    select_device,
)
from chimeramix.train.objective import Objective
from chimeramix.train.run import TrainingRun, check_run_dir, modules_of, pack_key_of
from chimeramix.viz import image_grid, to_uint8_images
from chimeramix_example_method.latent_settings import AutoencoderConfig, resolve

WEIGHTS = "autoencoder"
"""The finished run's weights file (``autoencoder.safetensors``)."""
PICTURE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The partner's weights of a sample picture's decoded mixes."""


class Autoencoder(nn.Module):
    """Images in [0, 1] to codes of 2C maps at a quarter of the side, and back."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, channels, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(channels, 3, 4, 2, 1), nn.Sigmoid())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


class AutoencoderObjective(Objective):
    """``objective(images)``: the mean squared reconstruction error; one Adam step."""

    loss_names: ClassVar[tuple[str, ...]] = ("mse",)

    def __init__(self, model: Autoencoder, autocast_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.model = model
        self.autocast_dtype = autocast_dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with autocast(images.device.type, self.autocast_dtype, cache=False):
            reconstructions = self.model(images)
        return F.mse_loss(reconstructions.float(), images)

    @staticmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        (images,) = batch
        loss: torch.Tensor = objective(images)
        optimizers["adam"].zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizers["adam"].step()
        return loss.detach()


@dataclass(kw_only=True)
class AutoencoderRun(TrainingRun):
    """An autoencoder run while it trains: the split's images besides the shared state."""

    kind: ClassVar[str] = "autoencoder"
    images: torch.Tensor
    """uint8 N x 3 x H x W."""

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.images[positions].float() / 255,)

    def result(self) -> dict[str, Any]:
        """Writes the weights; the first and last epochs' mean losses."""
        save_weights(self.objective.model, self.folder.weights(WEIGHTS))
        return {"first_epoch": {"mse": self.log[0]["mse"]}, "final": {"mse": self.log[-1]["mse"]}}

    def checkpointed(self) -> dict[str, Any]:
        return {"modules": modules_of(self.objective), "optimizers": self.optimizers,
                "schedulers": self.schedulers, "rngs": {"batches": self.rng}}


def pack_key(config: AutoencoderConfig) -> dict[str, Any]:
    """What the runs of one training pack share: the resolved config without its packable fields."""
    return pack_key_of(resolve(config), AutoencoderConfig)


def open_autoencoder_run(config: AutoencoderConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
                         ) -> AutoencoderRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (the kind's opener); the stored result of a finished
    run when ``resume``."""
    config = resolve(config)
    folder = RunFolder(run_dir)
    finished = check_run_dir(config, folder, resume, AutoencoderRun.kind)
    if finished is not None:
        return finished
    device = select_device(config.device)
    config = replace(config, precision=run_precision(config, device))
    assert config.repetition is not None
    data = load_training_set(config.data, device)
    seed_everything(config.data.seed)
    objective = AutoencoderObjective(Autoencoder(config.channels).to(device), autocast_dtype(config.precision))
    adam = torch.optim.Adam(objective.parameters(), lr=config.lr, **adam_options(device, config.fast))
    if not folder.config_file.is_file():
        folder.write_config(config, device)
    run = AutoencoderRun(config=config, folder=folder, device=device, objective=objective,
                         optimizers={"adam": adam}, schedulers={}, rng=make_rng(config.data.seed, device),
                         count=len(data.images), repeats=repetition(config.data.k, config.repetition),
                         images=data.images)
    run.start(resume)
    return run


# ------------------------------------------------------------------------------------ the classifier's mixing


def load_autoencoder(run_dir: str | os.PathLike[str], device: torch.device) -> tuple[Autoencoder, AutoencoderConfig]:
    """The trained autoencoder of a finished run (eval mode, on ``device``), and its config."""
    folder = RunFolder(run_dir)
    config = folder.read_config(AutoencoderConfig)
    path = folder.weights(WEIGHTS)
    if not path.is_file() or not folder.is_finished:
        raise ChimeraMixError(f"{run_dir} holds no trained autoencoder ({path.name}); finish it with "
                              "`chimeramix generator train --kind autoencoder ... --resume`")
    model = Autoencoder(config.channels)
    load_weights(model, path)
    return model.to(device).eval().requires_grad_(False), config


class LatentMix:
    """The classifier's pair mixing (chimeramix's ``GroupComposer``): the decoded mix ``(1 - w) E(x_i) + w E(x_j)``
    of each image x_i and its same-class partner x_j, the partner's weight w ~ U(0, 1) drawn per image."""

    images = 2
    augmented = True
    """The decoded mixes are cropped, flipped and erased as real images are."""
    segments = None
    segment_images: tuple[int, ...] = ()

    def __init__(self, model: Autoencoder, autocast_dtype: torch.dtype | None = None) -> None:
        self.model = model
        self.autocast_dtype = autocast_dtype

    def sample(self, count: int, rng: torch.Generator, segments: Any = None) -> torch.Tensor:
        """The partner's weight of each of ``count`` compositions."""
        return torch.rand(count, generator=rng, device=rng.device)

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """``images``: 2 x B x 3 x H x W in [0, 1] (the batch images, then their partners) to B decoded mixes."""
        weights = draws.view(-1, 1, 1, 1)
        with torch.no_grad(), autocast(images.device.type, self.autocast_dtype):
            codes = self.model.encoder(images.flatten(0, 1)).unflatten(0, images.shape[:2])
            mixed = self.model.decoder((1 - weights) * codes[0] + weights * codes[1])
        return mixed.float().clamp(0, 1)


def latent_mix(context: ComposerContext) -> LatentMix:
    """The autoencoder kind's composer (``Composing.composer``): the finished run in ``context.run_dir`` on its device
    and precision."""
    return LatentMix(load_autoencoder(context.run_dir, context.device)[0], context.autocast_dtype)


def sample_picture(run_dir: str | os.PathLike[str], count: int, seed: int, device: torch.device) -> np.ndarray:
    """``generator sample``'s picture: rows of x_i, its decoded mixes with a same-class x_j at the partner's
    weights :data:`PICTURE_WEIGHTS`, then x_j."""
    model, config = load_autoencoder(run_dir, device)
    data = load_training_set(config.data, device)
    rng = make_rng(seed, device)
    mixing = LatentMix(model)
    rows = []
    for position in torch.randperm(len(data.images), generator=rng, device=device)[:count].tolist():
        same = (data.labels == data.labels[position]).nonzero().flatten()
        partner = int(same[torch.randint(len(same), (1,), generator=rng, device=device)])
        pair = data.images[[position, partner]].float() / 255
        weights = torch.tensor(PICTURE_WEIGHTS, device=device)
        images = pair[:, None].expand(2, len(weights), *pair.shape[1:])
        strip = torch.cat([pair[:1], mixing.compose(images, weights, torch.zeros(0)), pair[1:]])
        rows.append(to_uint8_images(strip, value_range=(0, 1)))
    return image_grid(rows, scale=2)
