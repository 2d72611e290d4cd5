"""The SuperMix student (method ``supermix``): its teacher, its mixes (on the fly, or a pool made once), its
batches and loss, and its picture.

The teacher is a finished classifier run of the student's split (``ClassifierConfig.teacher``; ``run`` and
``sweep`` train the split's ``baseline`` run first): the protocol allows no pretrained teacher. Every step draws
the method's real batch (crop, flip and any policy or erasing), then with probability ``pair_mixing_p`` adds a
batch of mixes:

- on the fly (``supermix.pool_per_image = 0``): the masks of the real batch's mixes (partners by cyclic shift)
  are optimised now; only the successful mixes are added, labelled with the teacher's class of the mix;
- from the pool (default): B mixes drawn from ``supermix-pool.pt`` in the run folder, which is made once before
  training (mask optimisation on batches of ``pool_batch`` training images with random flips, as SuperMix's
  generation script; stored as uint8, atomically; reused on resume), reflect-cropped (2 px) and flipped, and
  labelled with the teacher's class of the cropped mix (SuperMix's student loop).

The loss is Eq. 9 (gamma = 2): gamma [CE(student(real), y) + CE(student(mix), teacher's class)] on mixed steps,
as SuperMix's code computes it on every step; a step without mixes (the coin said no, or no mix of the batch
succeeded) is the baseline's, CE(student(real), y), so that gamma, which SuperMix's code only ever applies to a
mixed step, does not double the protocol's learning rate there. It is written as soft targets (one-hot rows
scaled so that the mean cross-entropy over the rows is that sum), so the classifier's objective and loop stay
unchanged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from chimeramix import runtime
from chimeramix.config import ClassifierConfig
from chimeramix.data.splits import data_problems
from chimeramix.data.subset import TrainingSet
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write
from chimeramix.image_ops import crop_flip, denormalize, flip_where, normalize, sample_crops
from chimeramix.methods.augmentation import Augmentation
from chimeramix.methods.supermix.hooks import HOOKS
from chimeramix.methods.supermix.mask_optimisation import Mixes, SuperMix
from chimeramix.methods.supermix.settings import POOL_FILE, SuperMixConfig
from chimeramix.rundir import RunFolder
from chimeramix.runtime import make_rng, stream_seed
from chimeramix.train.frozen_classifier import load_classifier
from chimeramix.viz import image_grid, save_png, to_uint8_images

LOG = logging.getLogger("chimeramix.train")
POOL_STREAM = 2
"""Seed stream of the pool's random numbers (the augmentation's stream is 1): making the pool leaves the
training RNG untouched."""
PICTURE_STREAM = 3
PICTURE_IMAGES = 8
FRUITLESS_ROUNDS = 20
"""Pool batches in a row without one successful mix after which making the pool stops with an error."""


def check_teacher(config: ClassifierConfig) -> None:
    """Refuse a ``config.teacher`` that is not a finished classifier run of the student's dataset, k and split
    seed (a mismatch is allowed with ``allow_mismatch``)."""
    if config.teacher is None:
        raise ChimeraMixError("method 'supermix' needs a trained teacher; pass --teacher RUN_DIR (a finished "
                              "classifier run of the same split, e.g. method baseline), or let `chimeramix run` "
                              "train it")
    folder = RunFolder(config.teacher)
    if not folder.is_finished:
        raise ChimeraMixError(f"teacher {folder.path} is not a finished classifier run (no "
                              f"{folder.result_file.name}); finish it with `chimeramix classifier train ... "
                              "--resume`, or pass another --teacher")
    teacher = folder.read_config(ClassifierConfig)
    problems = data_problems(teacher.data, config.data)
    if problems and not config.allow_mismatch:
        raise ChimeraMixError(f"teacher {folder.path} was trained for {', '.join(problems)}; train a teacher on "
                              "this split (the protocol allows no other data), or pass --allow-mismatch")


def teacher_mixer(config: ClassifierConfig, device: torch.device,
                  autocast_dtype: torch.dtype | None = None) -> SuperMix:
    """SuperMix under the frozen teacher of ``config`` (which a run checks first, :func:`check_teacher`), on
    ``device``."""
    assert config.teacher is not None
    teacher = load_classifier(config.teacher, device)
    return SuperMix(teacher.model, HOOKS.settings_of(config), mean=teacher.mean.to(device),
                    std=teacher.std.to(device), autocast_dtype=autocast_dtype)


def weighted_targets(labels: torch.Tensor, mix_labels: torch.Tensor, num_classes: int, gamma: float
                     ) -> torch.Tensor:
    """Soft targets of the rows [real batch, mixes] whose mean cross-entropy is gamma [mean CE over the real
    rows + mean CE over the mix rows]: one-hot rows scaled by gamma n / n_real and gamma n / n_mix. Without
    mixes, plain one-hot rows: CE(real), the baseline's step (SuperMix's code mixes on every step, so its gamma
    never scales a step without mixes)."""
    if not len(mix_labels):
        return F.one_hot(labels, num_classes).float()
    rows = len(labels) + len(mix_labels)
    weights = torch.cat([torch.full((len(labels),), gamma * rows / len(labels), device=labels.device),
                         torch.full((len(mix_labels),), gamma * rows / len(mix_labels), device=labels.device)])
    return F.one_hot(torch.cat([labels, mix_labels]), num_classes).float() * weights[:, None]


@dataclass
class MixStats:
    """How mask optimisations went: mixes tried and kept, updates made."""

    tried: int = 0
    kept: int = 0
    iterations: int = 0
    optimisations: int = 0

    def add(self, mixes: Mixes) -> None:
        self.tried += len(mixes.success)
        self.kept += len(mixes.images)
        self.iterations += mixes.iterations
        self.optimisations += 1

    def summary(self) -> dict[str, float | None]:
        """The share of successful mixes and the mean number of updates (``None`` before any optimisation)."""
        if not self.optimisations:
            return {"mix_success": None, "mix_iterations": None}
        return {"mix_success": self.kept / self.tried, "mix_iterations": self.iterations / self.optimisations}


def make_pool(mixer: SuperMix, images: torch.Tensor, size: int, batch: int, rng: torch.Generator
              ) -> tuple[torch.Tensor, MixStats]:
    """``size`` successful mixes (uint8 size x 3 x H x W) of the uint8 training ``images``, and how their
    making went: mask optimisations on random batches of ``batch`` images (at most all of them), each image
    flipped with probability 0.5."""
    batch = min(batch, len(images))
    made: list[torch.Tensor] = []
    stats = MixStats()
    fruitless = 0
    while stats.kept < size:
        chosen = torch.randperm(len(images), generator=rng, device=rng.device)[:batch].to(images.device)
        _, flips = sample_crops(batch, 0, rng)
        inputs = flip_where(images[chosen].float().div(255), flips.to(images.device))
        mixes = mixer.mix(inputs, mixer.sample(batch, rng).to(images.device))
        stats.add(mixes)
        fruitless = fruitless + 1 if len(mixes.images) == 0 else 0
        if fruitless == FRUITLESS_ROUNDS:
            raise ChimeraMixError(f"SuperMix's teacher accepted no mix in {FRUITLESS_ROUNDS} batches in a row "
                                  f"({stats.kept} of {size} pool mixes made); train a better teacher or raise "
                                  "supermix.max_iterations")
        made.append(mixes.images.mul(255).round().to(torch.uint8))
        LOG.info("SuperMix pool: %d of %d mixes after %d batches (%.0f %% successful)", min(stats.kept, size), size,
                 stats.optimisations, 100 * stats.kept / stats.tried)
    return torch.cat(made)[:size], stats


def pool_of(folder: RunFolder, mixer: SuperMix, data: TrainingSet, supermix: SuperMixConfig, seed: int
            ) -> tuple[torch.Tensor, dict[str, Any]]:
    """The run's pool of mixes on the training device and how its making went (with its mixes and seconds):
    read from the run folder, or made now (seeded by the split seed's own stream) and stored atomically; a
    stored pool is never made again."""
    device = data.images.device
    size = supermix.pool_per_image * len(data.images)
    path = folder.path / POOL_FILE
    if not path.is_file():
        rng = make_rng(stream_seed(seed, POOL_STREAM), device)
        started = time.perf_counter()
        images, stats = make_pool(mixer, data.images, size, supermix.pool_batch, rng)
        made = {"images": images.cpu(), "stats": {**stats.summary(), "batches": stats.optimisations, "mixes": size,
                                                  "seconds": round(time.perf_counter() - started, 3)}}
        atomic_write(path, lambda handle: torch.save(made, handle))
    stored = torch.load(path, map_location=device, weights_only=True)
    pool: torch.Tensor = stored["images"]
    if len(pool) != size or pool.shape[1:] != data.images.shape[1:]:
        raise ChimeraMixError(f"{path} holds {len(pool)} mixes, not the {size} of this run; "
                              "delete it to make it again")
    return pool, stored["stats"]


def save_picture(mixer: SuperMix, images: torch.Tensor, path: str, seed: int) -> None:
    """``supermix.png``: the first training images and their partners (K rows), their optimised masks (K rows)
    and the mixes (a failed mix is shown darkened)."""
    count = min(PICTURE_IMAGES, len(images))
    inputs = images[:count].float().div(255)
    rng = make_rng(stream_seed(seed, PICTURE_STREAM), inputs.device)
    mixes = mixer.mix(inputs, mixer.sample(count, rng).to(inputs.device))
    group = mixer.groups(inputs)
    composed = (mixes.masks[:, :, None] * group).sum(dim=1)
    composed = torch.where(mixes.success[:, None, None, None], composed, composed * 0.3)
    rows = [to_uint8_images(group[:, k], value_range=(0, 1)) for k in range(mixer.images)]
    rows += [to_uint8_images(mixes.masks[:, k], value_range=(0, 1)) for k in range(mixer.images)]
    save_png(image_grid([*rows, to_uint8_images(composed, value_range=(0, 1))], scale=2), path)


@dataclass
class SuperMixBatches:
    """The SuperMix student's batches: ``batches(positions, rng)`` is (inputs, soft targets), see the module
    docstring. ``pool``: uint8 mixes, or ``None`` for mixes made on the fly."""

    augmentation: Augmentation
    mixer: SuperMix
    config: SuperMixConfig
    num_classes: int
    p: float
    pool: torch.Tensor | None
    pool_stats: dict[str, Any] | None = None
    """How the pool's making went (share of successful mixes, mean updates, batches)."""
    stats: MixStats = field(default_factory=MixStats)
    """The epoch's mask optimisations so far (on the fly)."""

    def result_fields(self) -> dict[str, Any]:
        """How the pool's making went, for the run's result (``pool``: its seconds and mixes are its cost)."""
        return {"pool": self.pool_stats} if self.pool_stats else {}

    def epoch_columns(self) -> dict[str, float | None]:
        """The log's columns of the epoch that ends (on the fly: its mixes' success share and mean updates);
        starts the next epoch's count."""
        if self.pool is not None:
            return {}
        columns, self.stats = self.stats.summary(), MixStats()
        return columns

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        real, labels = self.augmentation(positions, rng)
        mean, std = self.augmentation.mean, self.augmentation.std
        none = labels[:0]
        if not torch.rand(1, generator=rng, device=rng.device).item() < self.p:
            return real, weighted_targets(labels, none, self.num_classes, self.config.gamma)
        if self.pool is None:
            unit = denormalize(real, mean, std).clamp(0, 1)
            made = self.mixer.mix(unit, self.mixer.sample(len(real), rng).to(real.device))
            self.stats.add(made)
            mixes, mix_labels = made.images, made.labels
        else:
            chosen = torch.randint(len(self.pool), (len(real),), generator=rng, device=rng.device)
            offsets, flips = sample_crops(len(real), self.config.pool_crop_padding, rng)
            mixes = crop_flip(self.pool[chosen.to(self.pool.device)].float().div(255), offsets.to(real.device),
                              flips.to(real.device), self.config.pool_crop_padding)
            mix_labels = self.mixer.predict(mixes)
        inputs = torch.cat([real, normalize(mixes, mean, std)])
        return inputs, weighted_targets(labels, mix_labels, self.num_classes, self.config.gamma)



def student_batches(config: ClassifierConfig, augmentation: Augmentation, data: TrainingSet, folder: RunFolder,
                    device: torch.device) -> SuperMixBatches:
    """The student's batches under the run's teacher (checked against the split); its pool (made once, then
    read) and its picture (``supermix.png``)."""
    settings: SuperMixConfig = HOOKS.settings_of(config)
    mixer = teacher_mixer(config, device, runtime.autocast_dtype(config.precision))
    if not folder.picture("supermix").is_file():
        save_picture(mixer, data.images, str(folder.picture("supermix")), config.data.seed)
    pool, made = None, None
    if settings.pool_per_image:
        pool, made = pool_of(folder, mixer, data, settings, config.data.seed)
    return SuperMixBatches(augmentation, mixer, settings, data.num_classes, config.pair_mixing_p, pool, made)
