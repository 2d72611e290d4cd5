"""Training the mixing generator (paper section 3.1, supplement C.1).

Per batch of same-class pairs (x1, x2), with a random horizontal flip of every image and one mask m each:

- generator step: x̂1 = g(f(x1)), x̂2 = g(f(x2)) (masks of ones and zeros), x̂ = g(f(x1) ⊙ m + f(x2) ⊙ (1 - m));
  L_G = α_rec (MSE(x̂1, x1) + MSE(x̂2, x2)) + α_per (L_lap(x̂1, x1) + L_lap(x̂2, x2)) + α_disc MSE(D(x̂), 1);
- discriminator step: L_D = (MSE(D(x_real), 1) + MSE(D(x̂), 0)) / 2, x_real = x1 or x2 (one coin per batch).

Both use Adam; the learning rate is multiplied by ``lr_gamma`` after 30/60/80 % of the steps (epochs 60/120/160
of 200 in the paper). Under mixed precision (bf16 autocast on CUDA) the losses are computed in float32.

An epoch is the k x C training images repeated ``max(R // k, 1)`` times in an order that is a pure function of
(seed, epoch); partners, flips and masks come from one seeded ``torch.Generator`` whose state is checkpointed,
so ``resume`` continues a run exactly. The run directory holds ``config.json``, ``checkpoints/``, ``log.csv``,
the pictures, the final weights, and last ``result.json``: a run is finished iff ``result.json`` exists.

``fast`` launches the same steps through :mod:`chimeramix.train.fast`: capturable Adam, the G + D step as one
CUDA graph (the schedulers step outside it), and the losses checked for NaN once per epoch instead of after
every step. On a CPU it runs exactly the reference steps.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from chimeramix.config import GeneratorConfig, resolve_generator, steps_per_epoch, to_dict
from chimeramix.data import SameClassPartners, epoch_order, load_training_set, repetition
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import read_json, write_json
from chimeramix.losses import adversarial_loss, laplacian_loss, reconstruction_loss
from chimeramix.masks import (
    GridMasks,
    SegmentationMasks,
    SegmentationParams,
    compute_segments,
    mix,
    resize_mask,
    segment_cache,
)
from chimeramix.models.discriminator import PatchDiscriminator
from chimeramix.models.generator import GENERATOR_FILE, MixingGenerator, resize_images
from chimeramix.runtime import (
    autocast_dtype,
    environment,
    make_generator,
    progress_bar,
    seed_everything,
    select_device,
)
from chimeramix.train.checkpoint import (
    CONFIG_FILE,
    read_run_config,
    save_checkpoint,
    save_weights,
    write_run_config,
)
from chimeramix.train.fast import GraphedFunction, adam_options
from chimeramix.train.rundir import RESULT_FILE, check_losses, check_run_dir, resume_progress, write_log
from chimeramix.viz import image_grid, save_png, to_uint8_images

DISCRIMINATOR_FILE = "discriminator.safetensors"
LOG_COLUMNS = ("epoch", "step", "lr", "loss_g", "rec", "lap", "adv", "loss_d", "seconds")
LOSS_NAMES = ("loss_g", "rec", "lap", "adv", "loss_d")


def load_generator_config(run_dir: str | os.PathLike[str]) -> GeneratorConfig:
    """The resolved config a generator run saved (to check that dataset, k, seed and sizes match)."""
    return read_run_config(run_dir, GeneratorConfig)


# ------------------------------------------------------------------------------------------------------ data


@dataclass
class TrainingImages:
    """What the generator trains on: the split's images, their same-class partners and segments."""

    images: torch.Tensor
    """uint8 N x 3 x H x W at the dataset's size."""
    partners: SameClassPartners
    segments: torch.Tensor | None
    """int32 N x 2 x H x W Felzenszwalb ids of every image and its flip (segmentation masks only)."""


def segmentation_params(config: GeneratorConfig) -> SegmentationParams:
    if config.segmentation_scale is None or config.segmentation_min_size is None:
        raise ValueError("segmentation_params needs a resolved config")
    return SegmentationParams(
        config.segmentation_scale, config.segmentation_min_size, config.segmentation_sigma
    )


def load_training_images(config: GeneratorConfig, run_dir: Path, device: torch.device) -> TrainingImages:
    """Load the split's images (and, for segmentation masks, their cached segments) onto ``device``."""
    train = load_training_set(config.data, device)
    segments = None
    if config.mask == "segmentation":
        segments = torch.from_numpy(segment_cache(run_dir, train.pixels, segmentation_params(config))).to(device)
    return TrainingImages(train.images, SameClassPartners(train.labels), segments)


def to_generator_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 B x 3 x H x W -> float in [-1, 1] at the generator's working size."""
    return resize_images(images.float() / 127.5 - 1.0, size)


def flip_where(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Horizontally flip the images where ``flip`` (B booleans) is true."""
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


MaskSampler = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
"""(positions, flips, generator) -> B x 1 x h' x w' masks at feature size."""


def mask_sampler(config: GeneratorConfig, data: TrainingImages) -> MaskSampler:
    """The run's mask kind as a function of the batch; segmentation masks use the segments of x1."""
    feature_size = feature_side(config)
    if config.mask == "grid":
        grid = GridMasks(config.grid_cells, config.grid_p, config.grid_shift)
        return lambda positions, flips, generator: grid.sample(len(positions), feature_size, generator)
    segments = data.segments
    if segments is None:
        raise ValueError("segmentation masks need the training images' segments")
    regions = SegmentationMasks(config.region_choice)
    return lambda positions, flips, generator: regions.sample(
        segments[positions, flips.long()], generator, feature_size
    )


def working_side(config: GeneratorConfig) -> int:
    """The generator's image side of a resolved config."""
    if config.working_size is None:
        raise ValueError("working_side needs a config resolved by config.resolve_generator")
    return config.working_size


def feature_side(config: GeneratorConfig) -> int:
    """The side of the encoder's features (and of the masks): a quarter of the working side."""
    return working_side(config) // 4


# -------------------------------------------------------------------------------------------------- training


@dataclass
class Networks:
    generator: MixingGenerator
    discriminator: PatchDiscriminator
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.MultiStepLR]

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}


def build_networks(config: GeneratorConfig, device: torch.device, total_steps: int) -> Networks:
    """G, D, their Adam optimisers (capturable ones on the fast path) and step schedules: the lr is
    multiplied by ``lr_gamma`` after the ``lr_milestones`` fractions of ``total_steps`` (epochs 60/120/160
    of 200 in the paper)."""
    generator = MixingGenerator.from_config(config).to(device)
    discriminator = PatchDiscriminator().to(device)
    milestones = sorted({round(fraction * total_steps) for fraction in config.lr_milestones})
    optimizers: dict[str, torch.optim.Optimizer] = {}
    schedulers = {}
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        optimizer = torch.optim.Adam(module.parameters(), lr=config.lr, betas=config.betas,
                                     weight_decay=config.weight_decay,
                                     **(adam_options(device) if config.fast else {}))
        optimizers[name] = optimizer
        schedulers[name] = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, config.lr_gamma)
    return Networks(generator, discriminator, optimizers, schedulers)


class AdversarialObjective(nn.Module):
    """The losses of one training step of generator G (f, g) and discriminator D, as one module.

    ``objective(x1, x2, mask, half="generator")`` returns ``(L_G, L_rec, L_lap, L_adv, x̂)`` and
    ``objective(x1, x2, x̂, real_is_x1, half="discriminator")`` returns ``L_D`` (x_real = x1 where ``real_is_x1``,
    else x2). The forward passes run under ``autocast()``, the losses in float32. One module for both halves,
    so that a pack of runs can call either through ``torch.func.vmap`` (:mod:`chimeramix.train.packed`).
    """

    def __init__(self, generator: MixingGenerator, discriminator: PatchDiscriminator, config: GeneratorConfig,
                 autocast: Callable[[], AbstractContextManager[Any]]) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.weights = (config.w_rec, config.w_lap, config.w_adv)
        self.autocast = autocast

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, third: torch.Tensor, real_is_x1: torch.Tensor | None = None,
                *, half: Literal["generator", "discriminator"]) -> Any:
        if half == "generator":
            return self.generator_losses(x1, x2, third)
        if real_is_x1 is None:
            raise ValueError("the discriminator's loss needs real_is_x1")
        return self.discriminator_loss(x1, x2, third, real_is_x1)

    def generator_losses(self, x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with self.autocast():
            e1, e2 = self.generator.encode(torch.cat([x1, x2])).chunk(2)
            x1_hat, x2_hat, mixed = self.generator.decode(torch.cat([e1, e2, mix(e1, e2, mask)])).chunk(3)
            fooled = self.discriminator(mixed)
        rec = reconstruction_loss(x1_hat, x1) + reconstruction_loss(x2_hat, x2)
        lap = laplacian_loss(x1_hat, x1) + laplacian_loss(x2_hat, x2)
        adv = adversarial_loss(fooled, real=True)
        w_rec, w_lap, w_adv = self.weights
        return w_rec * rec + w_lap * lap + w_adv * adv, rec, lap, adv, mixed

    def discriminator_loss(self, x1: torch.Tensor, x2: torch.Tensor, mixed: torch.Tensor,
                           real_is_x1: torch.Tensor) -> torch.Tensor:
        real = torch.where(real_is_x1, x1, x2)
        with self.autocast():
            judged_real, judged_fake = self.discriminator(torch.cat([real, mixed])).chunk(2)
        return (adversarial_loss(judged_real, real=True) + adversarial_loss(judged_fake, real=False)) / 2


def training_step(
    objective: AdversarialObjective,
    optimizers: dict[str, torch.optim.Optimizer],
    x1: torch.Tensor,
    x2: torch.Tensor,
    mask: torch.Tensor,
    real_is_x1: torch.Tensor,
) -> torch.Tensor:
    """One generator step, then one discriminator step; returns the losses (``LOSS_NAMES``) as one tensor.
    The caller steps the schedulers (outside the CUDA graph on the fast path)."""
    objective.discriminator.requires_grad_(False)
    loss_g, rec, lap, adv, mixed = objective(x1, x2, mask, half="generator")
    optimizers["generator"].zero_grad(set_to_none=True)
    loss_g.backward()
    optimizers["generator"].step()

    objective.discriminator.requires_grad_(True)
    loss_d = objective(x1, x2, mixed.detach(), real_is_x1, half="discriminator")
    optimizers["discriminator"].zero_grad(set_to_none=True)
    loss_d.backward()
    optimizers["discriminator"].step()
    return torch.stack([loss_g, rec, lap, adv, loss_d]).detach()


@dataclass
class GeneratorRun:
    """One generator run while it trains: config, images, networks, RNG, masks and progress.

    :func:`open_generator_run` builds it (resuming when asked); a loop draws every step's batch with
    :meth:`batch` from :meth:`epoch_batches`, steps the optimisers and schedulers itself, and ends every epoch
    with :meth:`end_epoch` and the run with :meth:`finish`. :func:`train_generator` is the reference loop;
    :mod:`chimeramix.train.packed` trains several runs as one batched model with the same pieces.
    """

    config: GeneratorConfig
    run_dir: Path
    device: torch.device
    data: TrainingImages
    nets: Networks
    objective: AdversarialObjective
    rng: torch.Generator
    """Partners, flips, masks and the real/fake coin (checkpointed)."""
    masks: MaskSampler
    count: int
    repeats: int
    per_epoch: int
    log: list[dict[str, Any]]
    start_epoch: int
    step: int
    seconds: float
    board: Any = None
    """A TensorBoard writer, when the config asks for one."""
    pack_size: int = 1
    """Runs trained together with this one as one batched model, itself included (``train.packed``)."""

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        """The training-subset positions of every step of ``epoch`` (a pure function of seed and epoch)."""
        order = epoch_order(self.config.data.seed, epoch, self.count, self.repeats)
        return list(torch.from_numpy(order).to(self.device).split(int(self.config.batch_size or 1)))

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(x1, x2, mask, real_is_x1)`` of one step: same-class partners, flips, a mask and the coin, all
        drawn from the run's RNG."""
        partners = self.data.partners.sample(positions, self.rng)
        flips = torch.rand(2, len(positions), generator=self.rng, device=self.device) < 0.5
        mask = self.masks(positions, flips[0], self.rng)
        real_is_x1 = torch.rand((), generator=self.rng, device=self.device) < 0.5
        size = working_side(self.config)
        x1 = to_generator_input(flip_where(self.data.images[positions], flips[0]), size)
        x2 = to_generator_input(flip_where(self.data.images[partners], flips[1]), size)
        return x1, x2, mask, real_is_x1

    def end_epoch(self, epoch: int, totals: torch.Tensor, seconds: float) -> dict[str, float]:
        """Close ``epoch`` (0-based), whose summed losses are ``totals`` and which took ``seconds``: check and
        log the mean losses, write a checkpoint and the pictures when due; returns the means."""
        means = dict(zip(LOSS_NAMES, (totals / self.per_epoch).tolist()))
        first_step = self.step - self.per_epoch + 1
        check_losses(means, f"in epoch {epoch + 1} (steps {first_step}-{self.step})", self.run_dir)
        self.seconds += seconds
        row = {"epoch": epoch + 1, "step": self.step, "lr": self.nets.schedulers["generator"].get_last_lr()[0],
               **means, "seconds": round(self.seconds, 3)}
        self.log.append(row)
        write_log(self.run_dir, self.log, LOG_COLUMNS)
        if self.board is not None:
            for name in LOSS_NAMES:
                self.board.add_scalar(f"generator/{name}", row[name], epoch + 1)
        if (epoch + 1) % self.config.checkpoint_every == 0 or epoch + 1 == self.config.epochs:
            save_checkpoint(self.run_dir, **self.checkpointed(),
                            state={"epoch": epoch + 1, "step": self.step, "seconds": self.seconds, "log": self.log})
            write_pictures(self.nets.generator, self.config, self.data, self.run_dir)
        return means

    def finish(self) -> dict[str, Any]:
        """Write the final weights and ``result.json``; returns the result."""
        if self.board is not None:
            self.board.close()
        save_weights(self.nets.generator, self.run_dir / GENERATOR_FILE)
        save_weights(self.nets.discriminator, self.run_dir / DISCRIMINATOR_FILE)
        log = self.log
        result = {
            "final": {name: log[-1][name] for name in LOSS_NAMES} if log else {},
            "first_epoch": {name: log[0][name] for name in LOSS_NAMES} if log else {},
            "epochs": self.config.epochs,
            "steps": self.step,
            "wall_seconds": round(self.seconds, 3),
            "pack_size": self.pack_size,
            "config": to_dict(self.config),
            "environment": environment(self.device),
        }
        write_json(self.run_dir / RESULT_FILE, result)
        finished: dict[str, Any] = read_json(self.run_dir / RESULT_FILE)  # the JSON form, as a finished run
        return finished

    def checkpointed(self) -> dict[str, Any]:
        """What a checkpoint of the run holds, as the keyword arguments of ``save_checkpoint``."""
        return {"modules": self.nets.modules(), "optimizers": self.nets.optimizers,
                "schedulers": self.nets.schedulers, "generators": {"train": self.rng}}


def open_generator_run(
    config: GeneratorConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
) -> GeneratorRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (from its latest checkpoint when ``resume``); the
    stored result instead when ``resume`` finds the run finished. A run directory that holds another config,
    or a run when ``resume`` is off, is refused."""
    config = resolve_generator(config)
    run_dir = Path(run_dir)
    finished = check_run_dir(config, run_dir, resume, "generator")
    if finished is not None:
        return finished
    if config.batch_size is None or config.repetition is None:
        raise ValueError("open_generator_run resolves the config first")
    device = select_device(config.device)
    data = load_training_images(config, run_dir, device)
    repeats = repetition(config.data.k, config.repetition)
    count = len(data.images)
    per_epoch = steps_per_epoch(count, repeats, config.batch_size)
    seed_everything(config.data.seed)
    nets = build_networks(config, device, per_epoch * config.epochs)
    rng = make_generator(config.data.seed, device)
    if not (run_dir / CONFIG_FILE).is_file():
        write_run_config(run_dir, config, device)
    dtype = autocast_dtype(device, config.amp)

    def autocast() -> AbstractContextManager[Any]:  # graph capture needs autocast's weight cache off
        return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None,
                              cache_enabled=not config.fast)

    objective = AdversarialObjective(nets.generator, nets.discriminator, config, autocast)
    run = GeneratorRun(config, run_dir, device, data, nets, objective, rng, mask_sampler(config, data), count,
                       repeats, per_epoch, [], 0, 0, 0.0)
    if resume:
        resume_progress(run, device)
    run.board = tensorboard_writer(run_dir) if config.tensorboard else None
    return run


def train_generator(
    config: GeneratorConfig, run_dir: str | os.PathLike[str], *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train a mixing generator into ``run_dir`` and return its result (also written to ``result.json``).

    ``resume=True`` continues from the latest checkpoint (or returns the stored result of a finished run);
    a run directory that holds another config, or a run when ``resume`` is off, is refused.
    """
    run = open_generator_run(config, run_dir, resume=resume)
    if not isinstance(run, GeneratorRun):
        return run
    config, nets = run.config, run.nets
    gan_step = partial(training_step, run.objective, nets.optimizers)
    train_step = GraphedFunction(gan_step, optimizers=nets.optimizers.values()) if config.fast else gan_step
    bar = progress_bar("generator", run.per_epoch * config.epochs, run.step, enabled=progress)
    for epoch in range(run.start_epoch, config.epochs):
        started = time.perf_counter()
        nets.generator.train()
        nets.discriminator.train()
        totals = torch.zeros(len(LOSS_NAMES), device=run.device)
        for positions in run.epoch_batches(epoch):
            losses = train_step(*run.batch(positions))
            for scheduler in nets.schedulers.values():
                scheduler.step()
            run.step += 1
            totals += losses
            bar.update(1)
            if not config.fast:  # the fast path does not wait for every step's losses: it checks per epoch
                values = dict(zip(LOSS_NAMES, losses.tolist()))
                check_losses(values, f"at step {run.step} (epoch {epoch + 1})", run.run_dir)
                show_losses(bar, values)
        show_losses(bar, run.end_epoch(epoch, totals, time.perf_counter() - started))
    bar.close()
    return run.finish()


def show_losses(bar: tqdm, values: dict[str, float]) -> None:
    """The losses beside the progress bar."""
    bar.set_postfix({name: f"{value:.4g}" for name, value in values.items()}, refresh=False)


def tensorboard_writer(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ChimeraMixError("TensorBoard logging needs the tensorboard package; install it with "
                              "`pip install 'chimeramix[tensorboard]'` or drop --tensorboard") from error
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


# -------------------------------------------------------------------------------------------------- pictures

PICTURE_PAIRS = 8


def picture_pairs(data: TrainingImages, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of ``count`` training images and of same-class partners, fixed by ``seed``."""
    device = data.images.device
    rng = make_generator(seed, device)
    positions = torch.randperm(len(data.images), generator=rng, device=device)[:count]
    positions = positions.repeat(math.ceil(count / len(positions)))[:count]
    return positions, data.partners.sample(positions, rng)


@torch.no_grad()
def compositions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: TrainingImages, count: int, seed: int
) -> np.ndarray:
    """Rows of (x1, x2, three compositions under different masks of the run's kind), like Fig. 2."""
    size = working_side(config)
    positions, partners = picture_pairs(data, count, seed)
    rng = make_generator(seed + 1, data.images.device)
    no_flip = torch.zeros_like(positions, dtype=torch.bool)
    masks = mask_sampler(config, data)
    x1 = to_generator_input(data.images[positions], size)
    x2 = to_generator_input(data.images[partners], size)
    e1, e2 = generator.encode(x1), generator.encode(x2)
    compositions = [generator.compose_features(e1, e2, masks(positions, no_flip, rng)) for _ in range(3)]
    columns = [x1, x2, *compositions]
    rows = [to_uint8_images(torch.stack(row), value_range=(-1, 1)) for row in zip(*columns)]
    return image_grid(rows, scale=2 if size <= 64 else 1)


@torch.no_grad()
def masks_picture(config: GeneratorConfig, data: TrainingImages, count: int, seed: int) -> np.ndarray:
    """Rows of (image, grid mask, Felzenszwalb segments, segmentation mask), like Fig. 3; masks at feature
    resolution, shown at the working size."""
    size = working_side(config)
    positions, _ = picture_pairs(data, count, seed)
    device = data.images.device
    rng = make_generator(seed, device)
    images = data.images[positions]
    pixels = images.permute(0, 2, 3, 1).cpu().numpy()
    params = segmentation_params(config)
    segments = torch.from_numpy(compute_segments(pixels, params.scale, params.min_size, params.sigma))
    feature_size = feature_side(config)
    grid = GridMasks(config.grid_cells, config.grid_p, config.grid_shift).sample(count, feature_size, rng)
    regions = SegmentationMasks(config.region_choice).sample(segments.to(device), rng, feature_size)
    palette = np.random.default_rng(0).integers(0, 256, size=(int(segments.max()) + 1, 3), dtype=np.uint8)
    coloured = torch.from_numpy(palette[segments.numpy()]).permute(0, 3, 1, 2)
    columns = [
        to_uint8_images(to_generator_input(images, size), value_range=(-1, 1)),
        to_uint8_images(resize_mask(grid, size), value_range=(0, 1)),
        to_uint8_images(resize_images(coloured.float(), size).round(), value_range=(0, 255)),
        to_uint8_images(resize_mask(regions, size), value_range=(0, 1)),
    ]
    return image_grid([np.stack(row) for row in zip(*columns)], scale=2 if size <= 64 else 1)


@torch.no_grad()
def reconstructions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: TrainingImages, count: int, seed: int
) -> np.ndarray:
    """A row of inputs above a row of their reconstructions g(f(x))."""
    positions, _ = picture_pairs(data, count, seed)
    size = working_side(config)
    x = to_generator_input(data.images[positions], size)
    rows = [to_uint8_images(x, value_range=(-1, 1)),
            to_uint8_images(generator.decode(generator.encode(x)), value_range=(-1, 1))]
    return image_grid(rows, scale=2 if size <= 64 else 1)


def write_pictures(
    generator: MixingGenerator, config: GeneratorConfig, data: TrainingImages, run_dir: Path
) -> None:
    """``compositions.png``, ``masks.png`` and ``reconstructions.png`` in ``run_dir`` (fixed examples)."""
    generator.eval()
    seed = config.data.seed
    save_png(compositions_picture(generator, config, data, PICTURE_PAIRS, seed), run_dir / "compositions.png")
    save_png(masks_picture(config, data, 4, seed), run_dir / "masks.png")
    reconstructions = reconstructions_picture(generator, config, data, PICTURE_PAIRS, seed)
    save_png(reconstructions, run_dir / "reconstructions.png")
