"""What the mixing generator trains on: same-class pairs of the split's images, their masks, and the real
image of the discriminator's step, drawn from the run's RNG.

Per step, for the batch images x1 at ``positions``: partners x2 of the same class (itself included), a
horizontal flip of every image, in the ``released`` recipe also a reflect-padded random crop of each
(``input_crop``, at the working size), one mask per pair, and the coin that makes x1 or x2 the real image.
Images are taken to [-1, 1] at the generator's working size (bilinear). Segmentation masks use the cached
segments of the images as they are fed (flipped, cropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from chimeramix.config import GeneratorConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.data.subset import load_training_set
from chimeramix.masks import build_masks
from chimeramix.methods.image_ops import crop_flip, crop_flip_ids, flip_where
from chimeramix.models.generator import resize_images
from chimeramix.rundir import RunFolder
from chimeramix.segments import SegmentationParams, segment_cache


@dataclass
class PairData:
    """The split's images, their same-class partners and segments, on the training device."""

    images: torch.Tensor
    """uint8 N x 3 x H x W at the dataset's size."""
    partners: SameClassPartners
    segments: torch.Tensor | None
    """int32 N x 2 x H x W Felzenszwalb ids of every image and its flip (segmentation masks only)."""


def load_pair_data(config: GeneratorConfig, folder: RunFolder, device: torch.device) -> PairData:
    """Load the split's images (and, for segmentation masks, their cached segments) onto ``device``."""
    train = load_training_set(config.data, device)
    segments = None
    if config.masks.kind == "seg":
        cached = segment_cache(folder.segments, train.pixels, SegmentationParams.of(config.masks))
        segments = torch.from_numpy(cached).to(device)
    return PairData(train.images, SameClassPartners(train.labels), segments)


def to_generator_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 B x 3 x H x W -> float in [-1, 1] at the generator's working size."""
    return resize_images(images.float() / 127.5 - 1.0, size)


class PairBatches:
    """``batches(positions, rng)`` -> ``(x1, x2, mask, real_is_x1)``, one generator step's inputs."""

    def __init__(self, config: GeneratorConfig, data: PairData) -> None:
        if config.working_size is None or config.input_crop is None:
            raise ValueError("pair batches need a config resolved by config.resolve_generator")
        self.data = data
        self.size = config.working_size
        self.feature_size = config.feature_size
        self.crop = config.input_crop
        self.masks = build_masks(config.masks)

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        count, device = len(positions), rng.device
        pair = torch.stack([positions, self.data.partners.sample(positions, rng)])
        flips = torch.rand(2, count, generator=rng, device=device) < 0.5
        if not self.crop:
            segments = self._segments(pair, flips)
            mask = self.masks.sample(count, self.feature_size, rng, segments)
            real_is_x1 = torch.rand((), generator=rng, device=device) < 0.5
            x1, x2 = (to_generator_input(flip_where(self.data.images[p], f), self.size) for p, f in zip(pair, flips))
            return x1, x2, mask, real_is_x1
        offsets = [torch.randint(0, 2 * self.crop + 1, (count, 2), generator=rng, device=device) for _ in range(2)]
        segments = self._segments(pair, flips, offsets)
        mask = self.masks.sample(count, self.feature_size, rng, segments)
        real_is_x1 = torch.rand((), generator=rng, device=device) < 0.5
        x1, x2 = (crop_flip(to_generator_input(self.data.images[p], self.size), o, f, self.crop)
                  for p, f, o in zip(pair, flips, offsets))
        return x1, x2, mask, real_is_x1

    def _segments(self, pair: torch.Tensor, flips: torch.Tensor,
                  offsets: list[torch.Tensor] | None = None) -> list[torch.Tensor] | None:
        """The segment maps of x1 and x2 as they are fed: flipped (cached), or resized, cropped and flipped."""
        if self.data.segments is None:
            return None
        if offsets is None:
            return [self.data.segments[p, f.long()] for p, f in zip(pair, flips)]
        maps = []
        for p, f, o in zip(pair, flips, offsets):
            ids = F.interpolate(self.data.segments[p, 0][:, None].float(), size=(self.size, self.size),
                                mode="nearest")[:, 0].long()
            maps.append(crop_flip_ids(ids, o, f, self.crop))
        return maps
