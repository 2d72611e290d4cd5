"""Compositions of a batch with same-class partners: in pixel space (GridMix, SegMix) or by the frozen
ChimeraMix generator (features mixed, then decoded)."""

from __future__ import annotations

from typing import Protocol

import torch

from chimeramix.masks import GridMasks, SegmentationMasks, mix
from chimeramix.models.generator import MixingGenerator, resize_images


class PairComposer(Protocol):
    """What the per-step augmentation needs of a pair mixing: its random draws for a batch (masks, or GLICO's
    interpolation ratio and noise codes), then the compositions of the batch with its partners."""

    def pair_segments(self, positions: torch.Tensor, partners: torch.Tensor) -> list[torch.Tensor] | None:
        """The segment maps of the batch images and their partners (``None`` when the draws need none)."""
        ...

    def sample(self, count: int, rng: torch.Generator, segments: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The draws of a batch of ``count`` pairs."""
        ...

    def compose(self, x1: torch.Tensor, x2: torch.Tensor, draws: torch.Tensor, positions: torch.Tensor,
                partners: torch.Tensor) -> torch.Tensor:
        """Compositions (float images in [0, 1], the shape of ``x1``) of the batch images ``x1`` at ``positions``
        with their partners ``x2`` at ``partners`` of the training subset."""
        ...


class PairMixing:
    """Compositions of images with same-class partners under grid or segmentation masks.

    Without ``model`` the images are mixed in pixel space (GridMix / SegMix), at the image size or, when
    ``working_size`` is given, at that size (resized there and back, as the released code mixes at 64 px);
    with a frozen :class:`~chimeramix.models.generator.MixingGenerator` the generator mixes their features
    (ChimeraMix): images are taken to [-1, 1] at its ``working_size`` (bilinear; ``align_corners`` as the
    released code resizes), composed under ``torch.inference_mode`` and resized back. A mask of ones keeps
    the batch image. Segmentation masks choose regions of ``segments`` (N x H x W ids of the training subset,
    on the training device). ``mask_size`` is the side masks are drawn at: the mixing side in pixel space,
    the generator's feature side for ChimeraMix (the masks it was trained with).
    """

    def __init__(
        self,
        masks: GridMasks | SegmentationMasks,
        *,
        mask_size: int,
        segments: torch.Tensor | None = None,
        model: MixingGenerator | None = None,
        working_size: int | None = None,
        autocast_dtype: torch.dtype | None = None,
        align_corners: bool = False,
    ) -> None:
        if isinstance(masks, SegmentationMasks) and segments is None:
            raise ValueError("segmentation masks need the segments of the training subset")
        if model is not None and working_size is None:
            raise ValueError("a generator needs its working size")
        self.masks = masks
        self.mask_size = mask_size
        self.segments = segments
        self.model = model
        self.working_size = working_size
        self.autocast_dtype = autocast_dtype
        self.align_corners = align_corners

    def pair_segments(self, positions: torch.Tensor, partners: torch.Tensor) -> list[torch.Tensor] | None:
        """The segment maps of the batch images and of their partners (``None`` for grid masks)."""
        if self.segments is None:
            return None
        return [self.segments[positions], self.segments[partners]]

    def sample(self, count: int, rng: torch.Generator, segments: list[torch.Tensor] | None = None) -> torch.Tensor:
        """count x 1 x s x s masks (s = ``mask_size``); ``segments``: the maps of the pair's images."""
        return self.masks.sample(count, self.mask_size, rng, segments)

    def _resize(self, images: torch.Tensor, size: int) -> torch.Tensor:
        return resize_images(images, size, align_corners=self.align_corners)

    def compose(self, x1: torch.Tensor, x2: torch.Tensor, masks: torch.Tensor, positions: torch.Tensor | None = None,
                partners: torch.Tensor | None = None) -> torch.Tensor:
        """Compositions of float images in [0, 1] under ``masks`` (same shape out; the positions are not needed)."""
        size = x1.shape[-1]
        if self.model is None:
            if self.working_size is None:
                return mix(x1, x2, masks)
            mixed = mix(self._resize(x1, self.working_size), self._resize(x2, self.working_size), masks)
            return self._resize(mixed, size)
        assert self.working_size is not None
        dtype = self.autocast_dtype
        autocast = torch.autocast(x1.device.type, dtype or torch.bfloat16, enabled=dtype is not None)
        with torch.inference_mode(), autocast:
            composed = self.model.compose(
                self._resize(x1 * 2 - 1, self.working_size),
                self._resize(x2 * 2 - 1, self.working_size),
                masks,
            )
        # Leaving inference mode: the ops below make ordinary tensors the classifier can train on.
        return self._resize(composed.float(), size).add(1).div(2).clamp(0, 1)
