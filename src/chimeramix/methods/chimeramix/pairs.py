"""What the mixing generator trains on: groups of same-class images of the split (pairs, or N images for
multi-image mixing), their mask weights, and the real image of the discriminator's step, drawn from the run's
RNG.

Per step, for the batch images x1 at ``positions``: N - 1 partners of the same class each (itself included;
N = 2: the partner x2), a horizontal flip of every image, in the ``released`` recipe also a reflect-padded random
crop of each (``input_crop``, at the working size), the weights of every group (for pairs (m, 1 - m)), in the
``released`` recipe a second, independent draw of weights for the discriminator's step (the authors' code draws
a fresh mask there), and the draw that makes one of the N images the real one. Images are taken to [-1, 1] at
the generator's working size (bilinear). Segmentation masks use the segments of the images as they are fed:
the cached ones flipped (and resized and cropped) with them, or (``segment_source = "augmented"``) the fed
images themselves segmented, memoised per image, crop and flip
(:class:`~chimeramix.methods.chimeramix.segments.AugmentedSegments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from chimeramix.data.partners import SameClassPartners
from chimeramix.data.subset import load_training_set
from chimeramix.image_ops import crop_flip, crop_flip_ids, crop_keys, flip_where
from chimeramix.methods.chimeramix.generator import resize_images
from chimeramix.methods.chimeramix.masks import build_image_masks
from chimeramix.methods.chimeramix.segments import AugmentedSegments, SegmentationParams, segment_cache
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.rundir import RunFolder


@dataclass
class PairData:
    """The split's images, their same-class partners and segments, on the training device."""

    images: torch.Tensor
    """uint8 N x 3 x H x W at the dataset's size."""
    partners: SameClassPartners
    segments: torch.Tensor | AugmentedSegments | None
    """Segmentation masks only: int32 N x 2 x H x W cached Felzenszwalb ids of every image and its flip, or the
    segmentation of the images as they are fed (``segment_source = "augmented"``)."""


def load_pair_data(config: GeneratorConfig, folder: RunFolder, device: torch.device) -> PairData:
    """Load the split's images (and, for segmentation masks, their cached segments or the segmenter of the fed
    images) onto ``device``."""
    train = load_training_set(config.data, device)
    segments: torch.Tensor | AugmentedSegments | None = None
    if config.masks.kind == "seg":
        params = SegmentationParams.of(config.masks)
        if config.masks.segment_source == "augmented":
            segments = AugmentedSegments(params)
        else:
            segments = torch.from_numpy(segment_cache(folder.segments, train.pixels, params)).to(device)
    return PairData(train.images, SameClassPartners(train.labels), segments)


def to_generator_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 B x 3 x H x W -> float in [-1, 1] at the generator's working size."""
    return resize_images(images.float() / 127.5 - 1.0, size)


class PairBatches:
    """``batches(positions, rng)`` -> ``(images, weights, discriminator_weights, real_index)``, one generator
    step's inputs: the N x B images as one (N B) x 3 x H x W tensor (see
    :class:`~chimeramix.methods.chimeramix.objective.AdversarialObjective`), B x N x h x w weights, the weights
    of the discriminator's fresh composite (``discriminator_composite = "fresh"``; else the same weights) and the
    index of the real image."""

    def __init__(self, config: GeneratorConfig, data: PairData) -> None:
        if config.working_size is None or config.input_crop is None:
            raise ValueError("pair batches need a config resolved by settings.resolve_generator")
        self.data = data
        self.size = config.working_size
        self.feature_size = config.feature_size
        self.crop = config.input_crop
        self.masks = build_image_masks(config.masks)
        self.fresh = config.discriminator_composite == "fresh"

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        count, device, images = len(positions), rng.device, self.masks.images
        group = torch.stack([positions, *(self.data.partners.sample(positions, rng) for _ in range(images - 1))])
        flips = torch.rand(images, count, generator=rng, device=device) < 0.5
        offsets = None
        if self.crop:
            offsets = [torch.randint(0, 2 * self.crop + 1, (count, 2), generator=rng, device=device)
                       for _ in range(images)]
        if offsets is None:
            fed = [to_generator_input(flip_where(self.data.images[p], f), self.size) for p, f in zip(group, flips)]
        else:
            fed = [crop_flip(to_generator_input(self.data.images[p], self.size), o, f, self.crop)
                   for p, f, o in zip(group, flips, offsets)]
        segments = [self._segments(n, group, flips, offsets, fed) if n in self.masks.segment_images else None
                    for n in range(images)]
        weights = self.masks.sample(count, self.feature_size, rng, segments)
        discriminator_weights = self.masks.sample(count, self.feature_size, rng, segments) if self.fresh else weights
        real_index = (torch.rand((), generator=rng, device=device) * images).long()
        return torch.cat(fed), weights, discriminator_weights, real_index

    def _segments(self, n: int, group: torch.Tensor, flips: torch.Tensor, offsets: list[torch.Tensor] | None,
                  fed: list[torch.Tensor]) -> torch.Tensor:
        """The segment map of image n of every group as it is fed: the fed images segmented (memoised per
        image, crop and flip), or their cached segments flipped, or resized, cropped and flipped."""
        source = self.data.segments
        offset = None if offsets is None else offsets[n]
        if isinstance(source, AugmentedSegments):
            return source(fed[n], crop_keys(group[n], offset, flips[n]))
        if source is None:
            raise ValueError("segmentation masks need the segments of the split's images")
        if offset is None:
            return source[group[n], flips[n].long()]
        ids = F.interpolate(source[group[n], 0][:, None].float(), size=(self.size, self.size),
                            mode="nearest")[:, 0].long()
        return crop_flip_ids(ids, offset, flips[n], self.crop)
