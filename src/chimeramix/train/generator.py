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
from pathlib import Path
from typing import Any

import numpy as np
import torch
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
from chimeramix.runtime import autocast_dtype, environment, make_generator, seed_everything, select_device
from chimeramix.train.checkpoint import (
    CONFIG_FILE,
    load_checkpoint,
    read_run_config,
    save_checkpoint,
    save_weights,
    write_run_config,
)
from chimeramix.train.fast import GraphedFunction, adam_options
from chimeramix.train.rundir import RESULT_FILE, check_losses, check_run_dir, progress_of, write_log
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


def training_step(
    nets: Networks,
    config: GeneratorConfig,
    x1: torch.Tensor,
    x2: torch.Tensor,
    mask: torch.Tensor,
    real_is_x1: torch.Tensor,
    autocast: Callable[[], AbstractContextManager[Any]],
) -> torch.Tensor:
    """One generator step, then one discriminator step; returns the losses (``LOSS_NAMES``) as one tensor.
    The caller steps the schedulers (outside the CUDA graph on the fast path)."""
    generator, discriminator = nets.generator, nets.discriminator
    discriminator.requires_grad_(False)
    with autocast():
        e1, e2 = generator.encode(torch.cat([x1, x2])).chunk(2)
        x1_hat, x2_hat, mixed = generator.decode(torch.cat([e1, e2, mix(e1, e2, mask)])).chunk(3)
        fooled = discriminator(mixed)
    rec = reconstruction_loss(x1_hat, x1) + reconstruction_loss(x2_hat, x2)
    lap = laplacian_loss(x1_hat, x1) + laplacian_loss(x2_hat, x2)
    adv = adversarial_loss(fooled, real=True)
    loss_g = config.w_rec * rec + config.w_lap * lap + config.w_adv * adv
    nets.optimizers["generator"].zero_grad(set_to_none=True)
    loss_g.backward()
    nets.optimizers["generator"].step()

    discriminator.requires_grad_(True)
    real = torch.where(real_is_x1, x1, x2)
    with autocast():
        judged_real, judged_fake = discriminator(torch.cat([real, mixed.detach()])).chunk(2)
    loss_d = (adversarial_loss(judged_real, real=True) + adversarial_loss(judged_fake, real=False)) / 2
    nets.optimizers["discriminator"].zero_grad(set_to_none=True)
    loss_d.backward()
    nets.optimizers["discriminator"].step()
    return torch.stack([loss_g, rec, lap, adv, loss_d]).detach()


def train_generator(
    config: GeneratorConfig, run_dir: str | os.PathLike[str], *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train a mixing generator into ``run_dir`` and return its result (also written to ``result.json``).

    ``resume=True`` continues from the latest checkpoint (or returns the stored result of a finished run);
    a run directory that holds another config, or a run when ``resume`` is off, is refused.
    """
    config = resolve_generator(config)
    run_dir = Path(run_dir)
    finished = check_run_dir(config, run_dir, resume, "generator")
    if finished is not None:
        return finished
    if config.batch_size is None or config.repetition is None:
        raise ValueError("train_generator resolves the config first")
    device = select_device(config.device)
    data = load_training_images(config, run_dir, device)
    batch_size = config.batch_size
    repeats = repetition(config.data.k, config.repetition)
    count = len(data.images)
    per_epoch = steps_per_epoch(count, repeats, batch_size)
    seed_everything(config.data.seed)
    nets = build_networks(config, device, per_epoch * config.epochs)
    rng = make_generator(config.data.seed, device)
    if not (run_dir / CONFIG_FILE).is_file():
        write_run_config(run_dir, config, device)
    state = (load_checkpoint(run_dir, modules=nets.modules(), optimizers=nets.optimizers,
                             schedulers=nets.schedulers, map_location=device, generators={"train": rng})
             if resume else None)
    log, start_epoch, step, seconds = progress_of(state)

    dtype = autocast_dtype(device, config.amp)

    def autocast() -> AbstractContextManager[Any]:  # graph capture needs autocast's weight cache off
        return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None,
                              cache_enabled=not config.fast)

    def gan_step(x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor, real_is_x1: torch.Tensor) -> torch.Tensor:
        return training_step(nets, config, x1, x2, mask, real_is_x1, autocast)

    train_step = GraphedFunction(gan_step, optimizers=nets.optimizers.values()) if config.fast else gan_step
    masks = mask_sampler(config, data)
    size = working_side(config)
    board = tensorboard_writer(run_dir) if config.tensorboard else None
    bar = tqdm(total=per_epoch * config.epochs, initial=step, desc="generator", unit="step",
               disable=not progress, dynamic_ncols=True)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        nets.generator.train()
        nets.discriminator.train()
        order = torch.from_numpy(epoch_order(config.data.seed, epoch, count, repeats)).to(device)
        totals = torch.zeros(len(LOSS_NAMES), device=device)
        first_step = step + 1
        for positions in order.split(batch_size):
            partners = data.partners.sample(positions, rng)
            flips = torch.rand(2, len(positions), generator=rng, device=device) < 0.5
            mask = masks(positions, flips[0], rng)
            real_is_x1 = torch.rand((), generator=rng, device=device) < 0.5
            x1 = to_generator_input(flip_where(data.images[positions], flips[0]), size)
            x2 = to_generator_input(flip_where(data.images[partners], flips[1]), size)
            losses = train_step(x1, x2, mask, real_is_x1)
            for scheduler in nets.schedulers.values():
                scheduler.step()
            step += 1
            totals += losses
            bar.update(1)
            if not config.fast:  # the fast path does not wait for every step's losses: it checks per epoch
                values = dict(zip(LOSS_NAMES, losses.tolist()))
                check_losses(values, f"at step {step} (epoch {epoch + 1})", run_dir)
                show_losses(bar, values)
        means = dict(zip(LOSS_NAMES, (totals / per_epoch).tolist()))
        check_losses(means, f"in epoch {epoch + 1} (steps {first_step}-{step})", run_dir)
        show_losses(bar, means)
        seconds += time.perf_counter() - started
        row = {"epoch": epoch + 1, "step": step, "lr": nets.schedulers["generator"].get_last_lr()[0],
               **means, "seconds": round(seconds, 3)}
        log.append(row)
        write_log(run_dir, log, LOG_COLUMNS)
        if board is not None:
            for name in LOSS_NAMES:
                board.add_scalar(f"generator/{name}", row[name], epoch + 1)
        last_epoch = epoch + 1 == config.epochs
        if (epoch + 1) % config.checkpoint_every == 0 or last_epoch:
            save_checkpoint(run_dir, modules=nets.modules(), optimizers=nets.optimizers,
                            schedulers=nets.schedulers, generators={"train": rng},
                            state={"epoch": epoch + 1, "step": step, "seconds": seconds, "log": log})
            write_pictures(nets.generator, config, data, run_dir)
    bar.close()
    if board is not None:
        board.close()
    save_weights(nets.generator, run_dir / GENERATOR_FILE)
    save_weights(nets.discriminator, run_dir / DISCRIMINATOR_FILE)
    result = {
        "final": {name: log[-1][name] for name in LOSS_NAMES} if log else {},
        "first_epoch": {name: log[0][name] for name in LOSS_NAMES} if log else {},
        "epochs": config.epochs,
        "steps": step,
        "wall_seconds": round(seconds, 3),
        "config": to_dict(config),
        "environment": environment(device),
    }
    write_json(run_dir / RESULT_FILE, result)
    return read_json(run_dir / RESULT_FILE)  # the JSON form, as a finished run returns it


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
