"""Pictures of a mixing generator run: compositions (like Fig. 2: the N inputs, then masks in the inputs'
colours and the compositions under them), masks (like Fig. 3), reconstructions; a strip above each names its
columns.

Every picture shows fixed examples (chosen by the split seed), so pictures of one run at different epochs, or
of runs with other settings, show the same images. A row shows different images of one class wherever the
class has two (training pairs an image with any of its class, itself included, as the protocol does).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import torch

from chimeramix.image_ops import crop_keys
from chimeramix.methods.chimeramix.frozen_generator import generator_config, load_generator
from chimeramix.methods.chimeramix.generator import MixingGenerator, resize_images
from chimeramix.methods.chimeramix.masks import build_image_masks, build_masks, resize_mask, resize_weights
from chimeramix.methods.chimeramix.pairs import PairData, load_pair_data, to_generator_input
from chimeramix.methods.chimeramix.segments import AugmentedSegments, SegmentationParams, compute_segments
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.rundir import RunFolder
from chimeramix.runtime import make_rng
from chimeramix.viz import image_grid, label_columns, save_png, to_uint8_images

PICTURE_PAIRS = 8
IMAGE_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180],
                          [70, 240, 240], [240, 50, 230], [128, 128, 128]], dtype=np.float32)
"""The colours of images 1..8 in pictures of multi-image weights (more images reuse them)."""


def picture_pairs(data: PairData, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of ``count`` training images and of same-class partners other than themselves, fixed by
    ``seed``."""
    device = data.images.device
    rng = make_rng(seed, device)
    positions = torch.randperm(len(data.images), generator=rng, device=device)[:count]
    positions = positions.repeat(math.ceil(count / len(positions)))[:count]
    return positions, data.partners.sample_other(positions, rng)


MIXES = 3
"""Compositions per row of the compositions picture, each under a mask of its own."""


def group_segments(data: PairData, group: torch.Tensor, inputs: torch.Tensor) -> list[torch.Tensor] | None:
    """The segments of each row of ``group`` (N x B positions) for segment masks: the stored ones, or those of the
    fed ``inputs`` where the run segments them on the fly (``--recipe released``); None for grid masks."""
    source = data.segments
    if source is None:
        return None
    return [source(fed, crop_keys(where)) if isinstance(source, AugmentedSegments) else source[where, 0]
            for where, fed in zip(group, inputs)]


@torch.no_grad()
def compositions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: PairData, count: int, seed: int
) -> np.ndarray:
    """Rows of x_1 .. x_N (two images: x1, x2), then three times the mask (each image's share in its colour, the
    colour of its label) and the composition under it, like Fig. 2; the columns labelled."""
    size = int(config.working_size or 0)
    positions, partners = picture_pairs(data, count, seed)
    rng = make_rng(seed + 1, data.images.device)
    masks = build_image_masks(config.masks)
    others = (data.partners.sample_other(positions, rng) for _ in range(masks.images - 2))
    group = torch.stack([positions, partners, *others])
    inputs = torch.stack([to_generator_input(data.images[where], size) for where in group])
    segments = group_segments(data, group, inputs)
    columns = list(inputs)
    for _ in range(MIXES):
        weights = masks.sample(count, config.feature_size, rng, segments)
        columns += [coloured_weights(resize_weights(weights, size)), generator.compose_images(inputs, weights)]
    rows = [to_uint8(torch.stack(row)) for row in zip(*columns)]
    scale = 2 if size <= 64 else 1
    labels = [f"x{n + 1}" for n in range(masks.images)] + [name for i in range(MIXES)
                                                         for name in (f"mask {i + 1}", f"mix {i + 1}")]
    palette = [(int(r), int(g), int(b)) for r, g, b in IMAGE_COLOURS]
    colours = [palette[n % len(palette)] for n in range(masks.images)] + [(0, 0, 0)] * (2 * MIXES)
    return label_columns(image_grid(rows, scale=scale), labels, size * scale, colours=colours)


NOVEL_DISTANCE = 0.5
"""A composed pixel is *novel* when it lies farther than this (mean over RGB, images in [-1, 1]: a quarter of the
range) from both inputs at that pixel: a mask takes each region from one input, so such pixels are made up."""
STATS_PAIRS = 64


def sample_picture(run_dir: str | os.PathLike[str], count: int, seed: int, device: torch.device) -> np.ndarray:
    """:func:`compositions_picture` of the finished generator run in ``run_dir``, ``count`` pairs chosen by
    ``seed`` (``chimeramix generator sample``)."""
    config = generator_config(run_dir)
    data = load_pair_data(config, RunFolder(run_dir), device)
    return compositions_picture(load_generator(run_dir, device), config, data, count, seed)


def composition_stats(inputs: torch.Tensor, compositions: torch.Tensor) -> dict[str, float]:
    """How much a generator's compositions vary and how far they stray, from N x B x 3 x H x W inputs (x1 first)
    and M x B x 3 x H x W compositions of them (B >= 2 groups):

    - ``spread``: the mean L1 distance between compositions of different groups, over that between their first
      inputs (about 1 for compositions as varied as the images; near 0 for a collapsed generator that composes
      every pair alike);
    - ``novel``: the share of composed pixels far from every input at that pixel (:data:`NOVEL_DISTANCE`;
      0 for compositions made of the inputs' regions, large for colours and blobs in none of them).
    """
    def mean_distance(images: torch.Tensor) -> float:
        flat = images.flatten(1)
        distances = torch.cdist(flat, flat, p=1) / flat.shape[1]
        return float(distances.sum() / (len(flat) * (len(flat) - 1)))

    spread = sum(mean_distance(mixes) for mixes in compositions) / len(compositions)
    nearest = torch.stack([(compositions - x).abs().mean(dim=2) for x in inputs]).amin(dim=0)
    return {"spread": round(spread / max(mean_distance(inputs[0]), 1e-8), 4),
            "novel": round(float((nearest > NOVEL_DISTANCE).float().mean()), 4)}


@torch.no_grad()
def generator_stats(generator: MixingGenerator, config: GeneratorConfig, data: PairData, count: int, seed: int
                    ) -> dict[str, float]:
    """:func:`composition_stats` of ``count`` fixed groups of different same-class images (as the pictures draw
    them), each composed under :data:`MIXES` masks of the run's kind."""
    size = int(config.working_size or 0)
    positions, partners = picture_pairs(data, count, seed)
    rng = make_rng(seed + 2, data.images.device)
    masks = build_image_masks(config.masks)
    group = torch.stack([positions, partners,
                         *(data.partners.sample_other(positions, rng) for _ in range(masks.images - 2))])
    inputs = torch.stack([to_generator_input(data.images[where], size) for where in group])
    segments = group_segments(data, group, inputs)
    compositions = torch.stack([generator.compose_images(inputs, masks.sample(count, config.feature_size, rng,
                                                                              segments)) for _ in range(MIXES)])
    return composition_stats(inputs.float(), compositions.float())


def coloured_weights(weights: torch.Tensor) -> torch.Tensor:
    """B x N x H x W weights as B x 3 x H x W images in [-1, 1]: Σ_n M_n colour_n."""
    colours = torch.from_numpy(IMAGE_COLOURS[np.arange(weights.shape[1]) % len(IMAGE_COLOURS)]).to(weights.device)
    return torch.einsum("bnhw,nc->bchw", weights.float(), colours) / 127.5 - 1


@torch.no_grad()
def masks_picture(config: GeneratorConfig, data: PairData, count: int, seed: int) -> np.ndarray:
    """Rows of (image, grid mask, Felzenszwalb segments, segmentation mask), like Fig. 3; masks at feature
    resolution, shown at the working size."""
    size = int(config.working_size or 0)
    positions, _ = picture_pairs(data, count, seed)
    device = data.images.device
    rng = make_rng(seed, device)
    images = data.images[positions]
    pixels = images.permute(0, 2, 3, 1).cpu().numpy()
    params = SegmentationParams.of(config.masks)
    segments = torch.from_numpy(compute_segments(pixels, params.scale, params.min_size, params.sigma)).to(device)
    grid = build_masks(replace(config.masks, kind="grid")).sample(count, config.feature_size, rng)
    regions = build_masks(replace(config.masks, kind="seg")).sample(count, config.feature_size, rng,
                                                                     [segments, segments])
    palette = np.random.default_rng(0).integers(0, 256, size=(int(segments.max()) + 1, 3), dtype=np.uint8)
    coloured = torch.from_numpy(palette[segments.cpu().numpy()]).permute(0, 3, 1, 2)
    columns = [
        to_uint8(to_generator_input(images, size)),
        to_uint8(resize_mask(grid, size) * 2 - 1),
        to_uint8(resize_images(coloured.float(), size).round() / 127.5 - 1),
        to_uint8(resize_mask(regions, size) * 2 - 1),
    ]
    scale = 2 if size <= 64 else 1
    return label_columns(image_grid([np.stack(row) for row in zip(*columns)], scale=scale),
                         ["image", "grid mask", "segments", "seg. mask"], size * scale)


@torch.no_grad()
def reconstructions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: PairData, count: int, seed: int
) -> np.ndarray:
    """Rows of an input x and its reconstruction g(f(x)), the columns labelled."""
    positions, _ = picture_pairs(data, count, seed)
    size = int(config.working_size or 0)
    x = to_generator_input(data.images[positions], size)
    rows = list(zip(to_uint8(x), to_uint8(generator.decode(generator.encode(x)))))
    scale = 2 if size <= 64 else 1
    return label_columns(image_grid([np.stack(row) for row in rows], scale=scale), ["x", "g(f(x))"], size * scale)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1] as uint8 N x H x W x 3."""
    return to_uint8_images(images, value_range=(-1, 1))


def write_pictures(generator: MixingGenerator, config: GeneratorConfig, data: PairData, folder: RunFolder) -> None:
    """``compositions.png``, ``masks.png`` and ``reconstructions.png`` in the run folder (fixed examples)."""
    generator.eval()
    seed = config.data.seed
    save_png(compositions_picture(generator, config, data, PICTURE_PAIRS, seed), folder.picture("compositions"))
    save_png(masks_picture(config, data, 4, seed), folder.picture("masks"))
    save_png(reconstructions_picture(generator, config, data, PICTURE_PAIRS, seed), folder.picture("reconstructions"))
