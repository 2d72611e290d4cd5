"""What the mixing generator trains on: groups of same-class images of the split (pairs, or N images for
multi-image mixing), their mask weights, and the real image of the discriminator's step, drawn from the run's
RNG.

Per step, for the batch images x1 at ``positions``: N - 1 partners of the same class each (itself included;
N = 2: the partner x2), a horizontal flip of every image, in the ``released`` recipe also a reflect-padded random
crop of each (``input_crop``, at the working size), the weights of every group (for pairs (m, 1 - m)), and the
draw that makes one of the N images the real one. Images are taken to [-1, 1] at the generator's working size
(bilinear). Segmentation masks use the cached segments of the images as they are fed (flipped, cropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from chimeramix.config import GeneratorConfig
from chimeramix.data.partners import SameClassPartners
from chimeramix.data.subset import load_training_set
from chimeramix.masks import build_image_masks
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
    """``batches(positions, rng)`` -> ``(images, weights, real_index)``, one generator step's inputs: the N x B
    images as one (N B) x 3 x H x W tensor (see
    :class:`~chimeramix.train.objectives.adversarial.AdversarialObjective`), B x N x h x w weights and the index
    of the real image."""

    def __init__(self, config: GeneratorConfig, data: PairData) -> None:
        if config.working_size is None or config.input_crop is None:
            raise ValueError("pair batches need a config resolved by resolution.resolve_generator")
        self.data = data
        self.size = config.working_size
        self.feature_size = config.feature_size
        self.crop = config.input_crop
        self.masks = build_image_masks(config.masks)

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        count, device, images = len(positions), rng.device, self.masks.images
        group = torch.stack([positions, *(self.data.partners.sample(positions, rng) for _ in range(images - 1))])
        flips = torch.rand(images, count, generator=rng, device=device) < 0.5
        offsets = None
        if self.crop:
            offsets = [torch.randint(0, 2 * self.crop + 1, (count, 2), generator=rng, device=device)
                       for _ in range(images)]
        weights = self.masks.sample(count, self.feature_size, rng, self._segments(group, flips, offsets))
        real_index = (torch.rand((), generator=rng, device=device) * images).long()
        if offsets is None:
            fed = [to_generator_input(flip_where(self.data.images[p], f), self.size) for p, f in zip(group, flips)]
        else:
            fed = [crop_flip(to_generator_input(self.data.images[p], self.size), o, f, self.crop)
                   for p, f, o in zip(group, flips, offsets)]
        return torch.cat(fed), weights, real_index

    def _segments(self, group: torch.Tensor, flips: torch.Tensor,
                  offsets: list[torch.Tensor] | None = None) -> list[torch.Tensor] | None:
        """The segment maps of the N images as they are fed: flipped (cached), or resized, cropped and flipped."""
        if self.data.segments is None:
            return None
        if offsets is None:
            return [self.data.segments[p, f.long()] for p, f in zip(group, flips)]
        maps = []
        for p, f, o in zip(group, flips, offsets):
            ids = F.interpolate(self.data.segments[p, 0][:, None].float(), size=(self.size, self.size),
                                mode="nearest")[:, 0].long()
            maps.append(crop_flip_ids(ids, o, f, self.crop))
        return maps
