"""Pictures of a mixing generator run: compositions (like Fig. 2), masks (like Fig. 3), reconstructions.

Every picture shows fixed examples (chosen by the split seed), so pictures of one run at different epochs, or
of runs with other settings, show the same images.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from chimeramix.config import GeneratorConfig
from chimeramix.masks import build_masks, resize_mask
from chimeramix.models.generator import MixingGenerator, resize_images
from chimeramix.rundir import RunFolder
from chimeramix.runtime import make_rng
from chimeramix.segments import SegmentationParams, compute_segments
from chimeramix.train.pairs import PairData, to_generator_input
from chimeramix.viz import image_grid, save_png, to_uint8_images

PICTURE_PAIRS = 8


def picture_pairs(data: PairData, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of ``count`` training images and of same-class partners, fixed by ``seed``."""
    device = data.images.device
    rng = make_rng(seed, device)
    positions = torch.randperm(len(data.images), generator=rng, device=device)[:count]
    positions = positions.repeat(math.ceil(count / len(positions)))[:count]
    return positions, data.partners.sample(positions, rng)


@torch.no_grad()
def compositions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: PairData, count: int, seed: int
) -> np.ndarray:
    """Rows of (x1, x2, three compositions under different masks of the run's kind), like Fig. 2."""
    size = int(config.working_size or 0)
    positions, partners = picture_pairs(data, count, seed)
    rng = make_rng(seed + 1, data.images.device)
    masks = build_masks(config.masks)
    segments = None if data.segments is None else [data.segments[positions, 0], data.segments[partners, 0]]
    x1 = to_generator_input(data.images[positions], size)
    x2 = to_generator_input(data.images[partners], size)
    e1, e2 = generator.encode(x1), generator.encode(x2)
    compositions = [generator.compose_features(e1, e2, masks.sample(count, config.feature_size, rng, segments))
                    for _ in range(3)]
    columns = [x1, x2, *compositions]
    rows = [to_uint8(torch.stack(row)) for row in zip(*columns)]
    return image_grid(rows, scale=2 if size <= 64 else 1)


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
    return image_grid([np.stack(row) for row in zip(*columns)], scale=2 if size <= 64 else 1)


@torch.no_grad()
def reconstructions_picture(
    generator: MixingGenerator, config: GeneratorConfig, data: PairData, count: int, seed: int
) -> np.ndarray:
    """A row of inputs above a row of their reconstructions g(f(x))."""
    positions, _ = picture_pairs(data, count, seed)
    size = int(config.working_size or 0)
    x = to_generator_input(data.images[positions], size)
    rows = [to_uint8(x), to_uint8(generator.decode(generator.encode(x)))]
    return image_grid(rows, scale=2 if size <= 64 else 1)


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
