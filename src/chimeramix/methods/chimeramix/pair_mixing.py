"""Compositions of a batch with same-class partners: in pixel space (GridMix, SegMix) or by the frozen
ChimeraMix generator (features mixed, then decoded); with one partner per image (pairs) or N - 1 (multi-image
ChimeraMix)."""

from __future__ import annotations

import torch

from chimeramix.config import ClassifierConfig, protocol_for
from chimeramix.data.subset import TrainingSet
from chimeramix.methods.chimeramix.generator import MixingGenerator, resize_images
from chimeramix.methods.chimeramix.masks import (
    GridMasks,
    MultiImageMasks,
    SegmentationMasks,
    SegmentMaps,
    TwoImageMasks,
    blend,
    build_image_masks,
)
from chimeramix.methods.chimeramix.segments import AugmentedSegments, mask_segments
from chimeramix.rundir import RunFolder
from chimeramix.runtime import autocast, autocast_dtype


class PairMixing:
    """Compositions of images with same-class partners under N-image mask weights (for pairs: (m, 1 - m)).

    Without ``model`` the images are mixed in pixel space (GridMix / SegMix), at the image size or, when
    ``working_size`` is given, at that size (resized there and back, as the released code mixes at 64 px);
    with a frozen :class:`~chimeramix.methods.chimeramix.generator.MixingGenerator` the generator mixes their features
    (ChimeraMix): images are taken to [-1, 1] at its ``working_size`` (bilinear; ``align_corners`` as the
    released code resizes), composed under ``torch.inference_mode`` and resized back. Weight 1 on the first
    image keeps the batch image. Segmentation masks choose regions of segments: ``segments`` holds the cached ids
    of the training subset (N x H x W, on the training device), or segments the images as fed
    (:class:`~chimeramix.methods.chimeramix.segments.AugmentedSegments`); the caller hands :meth:`sample` the maps of
    the images
    ``segment_images``. ``mask_size`` is the side masks are drawn at: the mixing side in
    pixel space, the generator's feature side for ChimeraMix (the masks it was trained with). Two-image
    samplers (:class:`~chimeramix.methods.chimeramix.masks.GridMasks`,
    :class:`~chimeramix.methods.chimeramix.masks.SegmentationMasks`) are taken as
    pairs.
    """

    def __init__(
        self,
        masks: TwoImageMasks | MultiImageMasks | GridMasks | SegmentationMasks,
        *,
        mask_size: int,
        segments: torch.Tensor | AugmentedSegments | None = None,
        model: MixingGenerator | None = None,
        working_size: int | None = None,
        autocast_dtype: torch.dtype | None = None,
        align_corners: bool = False,
    ) -> None:
        masks = TwoImageMasks(masks) if isinstance(masks, GridMasks | SegmentationMasks) else masks
        self.augmented = True
        if _needs_segments(masks) and segments is None:
            raise ValueError("segmentation masks need the segments of the training subset")
        if model is not None and working_size is None:
            raise ValueError("a generator needs its working size")
        self.masks = masks
        self.images = masks.images
        self.segment_images = masks.segment_images
        self.mask_size = mask_size
        self.segments = segments
        self.model = model
        self.working_size = working_size
        self.autocast_dtype = autocast_dtype
        self.align_corners = align_corners

    def sample(self, count: int, rng: torch.Generator, segments: SegmentMaps | None = None) -> torch.Tensor:
        """count x N x s x s weights (s = ``mask_size``); ``segments``: the maps of the groups' images."""
        return self.masks.sample(count, self.mask_size, rng, segments)

    def _resize(self, images: torch.Tensor, size: int) -> torch.Tensor:
        return resize_images(images, size, align_corners=self.align_corners)

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
        """Compositions of N x B float images in [0, 1] under the weights ``draws`` (``group`` is not needed)."""
        size = images.shape[-1]
        if self.model is None:
            if self.working_size is None:
                return blend(images, draws)
            mixed = blend(torch.stack([self._resize(x, self.working_size) for x in images]), draws)
            return self._resize(mixed, size)
        assert self.working_size is not None
        with torch.inference_mode(), autocast(images.device.type, self.autocast_dtype):
            inputs = torch.stack([self._resize(x * 2 - 1, self.working_size) for x in images])
            composed = self.model.compose_images(inputs, draws)
        # Leaving inference mode: the ops below make ordinary tensors the classifier can train on.
        return self._resize(composed.float(), size).add(1).div(2).clamp(0, 1)


def pixel_pair_mixing(config: ClassifierConfig, data: TrainingSet, folder: RunFolder,
                      device: torch.device) -> PairMixing:
    """The ``pair_mixing`` hook of GridMix and SegMix: same-class pairs of ``data`` mixed in pixel space under the
    config's masks (segments cached in the run folder). The released stage order mixes at the generator's working
    size (``align_corners=True``)."""
    assert config.masks is not None, "the classifier config is resolved first"
    released = config.stage_order == "released"
    working_size = protocol_for(config.data).generator_size if released else None
    return PairMixing(build_image_masks(config.masks), mask_size=working_size or data.images.shape[-1],
                      segments=mask_segments(folder.segments, data.pixels, config.masks, device),
                      working_size=working_size, autocast_dtype=autocast_dtype(config.precision),
                      align_corners=released)


def _needs_segments(masks: TwoImageMasks | MultiImageMasks) -> bool:
    return bool(masks.segment_images)
