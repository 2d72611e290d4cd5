"""Pictures of a mixing generator run: compositions (like Fig. 2; for multi-image mixing the N inputs, their
weights in N colours and the compositions), masks (like Fig. 3), reconstructions.

Every picture shows fixed examples (chosen by the split seed), so pictures of one run at different epochs, or
of runs with other settings, show the same images.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from chimeramix.config import GeneratorConfig
from chimeramix.masks import build_image_masks, build_masks, resize_mask, resize_weights
from chimeramix.models.generator import MixingGenerator, resize_images
from chimeramix.rundir import RunFolder
from chimeramix.runtime import make_rng
from chimeramix.segments import AugmentedSegments, SegmentationParams, compute_segments, crop_keys
from chimeramix.train.pairs import PairData, to_generator_input
from chimeramix.viz import image_grid, save_png, to_uint8_images

PICTURE_PAIRS = 8
IMAGE_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180],
                          [70, 240, 240], [240, 50, 230], [128, 128, 128]], dtype=np.float32)
"""The colours of images 1..8 in pictures of multi-image weights (more images reuse them)."""


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
    """Rows of (x1, x2, three compositions under different masks of the run's kind), like Fig. 2; for
    multi-image mixing (x_1 .. x_N, then twice: the weights in N colours, the composition)."""
    size = int(config.working_size or 0)
    positions, partners = picture_pairs(data, count, seed)
    rng = make_rng(seed + 1, data.images.device)
    masks = build_image_masks(config.masks)
    group = torch.stack([positions, partners, *(data.partners.sample(positions, rng) for _ in range(masks.images - 2))])
    inputs = torch.stack([to_generator_input(data.images[where], size) for where in group])
    source = data.segments
    segments = None if source is None else [
        source(fed, crop_keys(where)) if isinstance(source, AugmentedSegments) else source[where, 0]
        for where, fed in zip(group, inputs)]
    columns = list(inputs)
    for _ in range(2 if config.masks.multi_image else 3):
        weights = masks.sample(count, config.feature_size, rng, segments)
        if config.masks.multi_image:
            columns.append(coloured_weights(resize_weights(weights, size)))
        columns.append(generator.compose_images(inputs, weights))
    rows = [to_uint8(torch.stack(row)) for row in zip(*columns)]
    return image_grid(rows, scale=2 if size <= 64 else 1)


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
