"""Images made by a finished generator run, as its classifier sees them: same-class pairs of the run's split
(partners drawn uniformly from the class, itself included) composed by the frozen ChimeraMix generator under
masks of the kind and settings it was trained with, or the composer of a generating first run of a component's
kind (:func:`chimeramix.methods.frozen_run.pair_composer`). Every split image is the first image
of a pair equally often (+-1); images come out at the dataset's size, quantised to uint8 like the training images. A
generator of the ``released`` recipe is sampled as that recipe's classifier uses it: images resized with
``align_corners=True``, and segmentation masks on the segments of the images as fed (mean 0.5 / std 0.5).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from chimeramix.components.hooks import GroupComposer
from chimeramix.config import DataConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.data.subset import load_training_set
from chimeramix.errors import ChimeraMixError
from chimeramix.image_ops import crop_keys
from chimeramix.methods.frozen_run import ComposerContext, pair_composer
from chimeramix.rundir import RunFolder
from chimeramix.runkinds import composing_kind
from chimeramix.runtime import make_rng
from chimeramix.viz import to_uint8_images

IMAGES_PER_SPLIT_IMAGE = 100
MAX_IMAGES = 50_000
"""The default number of generated images: 100 per split image (5,000 for CIFAR-10 at k = 5, 10,000 at k = 10),
at most clean-fid's generator-mode default of 50,000 (reached from k = 50 on CIFAR-10)."""


@dataclass(frozen=True)
class GeneratorRun:
    """What the analysis says about a finished generator run."""

    path: Path
    method: str
    """``ChimeraMix+Grid``, ``ChimeraMix+Seg``, or the method label of a component's kind."""
    data: DataConfig
    preset: str
    recipe: str
    """The generator's recipe (``paper`` for a kind without one)."""

    def describe(self) -> dict[str, str | int]:
        return {"run": str(self.path), "method": self.method, "dataset": self.data.dataset, "k": self.data.k,
                "seed": self.data.seed, "preset": self.preset}


def generator_run(run_dir: str | os.PathLike[str]) -> GeneratorRun:
    """The finished generating run in ``run_dir``: ChimeraMix's generator, or a generating run of a component's
    kind (anything else is a clear error)."""
    folder, kind = RunFolder(run_dir), composing_kind(run_dir)
    assert kind.composing is not None
    config = folder.read_config(kind.config)
    method = kind.composing.label_of(config)
    if not folder.is_finished:
        raise ChimeraMixError(f"generator run {run_dir} has not finished (no result.json); finish it with "
                              "`chimeramix generator train ... --resume`")
    return GeneratorRun(folder.path, method, config.data, config.preset, getattr(config, "recipe", "paper"))


def default_count(k: int, num_classes: int) -> int:
    """The default number of generated images for a split of k images per class (:data:`MAX_IMAGES`)."""
    return min(MAX_IMAGES, IMAGES_PER_SPLIT_IMAGE * k * num_classes)


@torch.no_grad()
def generate(run: GeneratorRun, count: int | None, seed: int, device: torch.device, *, data_root: str | None = None,
             batch_size: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images (uint8 N x H x W x 3; ``None``: :func:`default_count`) made by ``run`` from pairs drawn
    with ``seed``, and their labels; ``data_root`` overrides the data root the run saved."""
    data = load_training_set(replace(run.data, data_root=data_root or run.data.data_root), device)
    composer = pair_composer(ComposerContext(run.path, data, device, align_corners=run.recipe == "released"))
    total = default_count(run.data.k, data.num_classes) if count is None else count
    if total < 2:
        raise ChimeraMixError(f"--n must be at least 2 generated images, got {total}")
    rng = make_rng(seed, device)
    partners = SameClassPartners(data.labels)
    order = torch.randperm(len(data.images), generator=rng, device=device)
    order = order.repeat(math.ceil(total / len(order)))[:total]
    batches = []
    for start in range(0, total, batch_size):
        positions = order[start : start + batch_size]
        group = torch.stack([positions, *(partners.sample(positions, rng) for _ in range(composer.images - 1))])
        images = torch.stack([data.images[where].float() / 255 for where in group])
        segments = [_segments(composer, where, images[n]) if n in composer.segment_images else None
                    for n, where in enumerate(group)]
        draws = composer.sample(len(positions), rng, segments)
        images = composer.compose(images, draws, group)
        batches.append(to_uint8_images(images, value_range=(0, 1)))
    return np.concatenate(batches), data.labels[order].cpu().numpy()


def _segments(composer: GroupComposer, positions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The segment ids of the split images at ``positions`` (``images``: them in [0, 1]): cached, or segmented
    as the released recipe's classifier feeds them (mean 0.5 / std 0.5, memoised per image)."""
    source = composer.segments
    if source is None:
        raise ValueError("segmentation masks need the segments of the split's images")
    if isinstance(source, torch.Tensor):
        return source[positions]
    return source(images * 2 - 1, crop_keys(positions))
