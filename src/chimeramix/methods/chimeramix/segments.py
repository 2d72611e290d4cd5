"""Felzenszwalb segmentations, whose regions segmentation masks
(:class:`chimeramix.methods.chimeramix.masks.SegmentationMasks`)
choose, from one of two sources (``MaskConfig.segment_source``):

- ``cached`` (paper recipe): every training image, in [0, 1] at the dataset's size (32 x 32 for CIFAR, 96 x 96
  for STL-10), and its horizontal flip, segmented once and cached in the run folder (:func:`segment_cache`); the
  segments are then cropped and flipped with the image, so training never segments in the loop;
- ``augmented`` (released recipe, as the authors' data loaders): every image as it is fed, after its
  augmentation and normalisation (in [-1, 1]) and at the size it is fed (the generator's 64 px for 32 px data),
  segmented on the fly on the CPU (:class:`AugmentedSegments`). Where the fed image is a pure function of the
  training image, its crop offsets and flip, its segments are memoised under that key, which is exact; a policy
  or erasing makes every image new.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.segmentation import felzenszwalb

from chimeramix.config import MaskConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write


@dataclass(frozen=True)
class SegmentationParams:
    """Felzenszwalb parameters (supplement C.1: scale = min_size = 60 for 32 px data, 400 for STL-10)."""

    scale: float = 60.0
    min_size: int = 60
    sigma: float = 0.8

    @classmethod
    def of(cls, masks: MaskConfig) -> SegmentationParams:
        """The parameters of a resolved mask config."""
        if masks.segmentation_scale is None or masks.segmentation_min_size is None:
            raise ValueError("segmentation parameters need a mask config resolved by config.resolve_masks")
        return cls(masks.segmentation_scale, masks.segmentation_min_size, masks.segmentation_sigma)


def compute_segments(images: np.ndarray, scale: float, min_size: int, sigma: float) -> np.ndarray:
    """Felzenszwalb segments of uint8 N x H x W x 3 images (taken to [0, 1]); int32 N x H x W ids."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ChimeraMixError(f"segmentation needs uint8 N x H x W x 3 images, got {images.dtype} "
                              f"{images.shape}; pass the dataset's raw pixels")
    segments = np.empty(images.shape[:3], dtype=np.int32)
    for i, image in enumerate(images):
        segments[i] = felzenszwalb(image.astype(np.float64) / 255.0, scale=scale, sigma=sigma,
                                   min_size=min_size)
    return segments


def segment_cache(path: str | os.PathLike[str], images: np.ndarray, params: SegmentationParams) -> np.ndarray:
    """Segments of ``images`` and of their horizontal flips, int32 N x 2 x H x W (``[:, 1]``: flipped).

    ``path`` is the cache file (a run folder's :attr:`~chimeramix.rundir.RunFolder.segments`). The cache is
    reused when it was made from the same pixels and parameters, and recomputed (and rewritten) otherwise.
    """
    path = Path(path)
    key = _cache_key(images, params)
    if path.is_file():
        try:
            with np.load(path) as cached:
                if str(cached["key"]) == key:
                    return np.asarray(cached["segments"])
        except (OSError, ValueError, KeyError):
            pass  # damaged or foreign: recompute below
    flipped = np.ascontiguousarray(images[:, :, ::-1])
    segments = np.stack([compute_segments(images, **asdict(params)),
                         compute_segments(flipped, **asdict(params))], axis=1)
    atomic_write(path, lambda handle: np.savez_compressed(handle, segments=segments, key=np.array(key)))
    return segments


def _cache_key(images: np.ndarray, params: SegmentationParams) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(repr(sorted(asdict(params).items())).encode())
    return digest.hexdigest()


def mask_segments(path: str | os.PathLike[str], images: np.ndarray, masks: MaskConfig, device: torch.device
                  ) -> torch.Tensor | AugmentedSegments | None:
    """Where segmentation ``masks`` of a classifier's pair mixing get their segments (``None`` for grid masks):
    the cached segments of ``images`` themselves (N x H x W on ``device``; not their flips: the paper's stage
    order mixes before the flip), or the segmenter of the images as fed (``segment_source = "augmented"``)."""
    if masks.kind != "seg":
        return None
    params = SegmentationParams.of(masks)
    if masks.segment_source == "augmented":
        return AugmentedSegments(params)
    return torch.from_numpy(segment_cache(path, images, params)[:, 0]).to(device)


MEMO_BYTES = 512 * 2**20
"""The most memory :class:`AugmentedSegments` keeps memoised segments in (about 130,000 of 64 x 64 px)."""


class AugmentedSegments:
    """Felzenszwalb segments of images as they are fed (``segment_source = "augmented"``), on the fly.

    ``segments(images, keys)`` segments float B x 3 x H x W images (as fed: augmented, normalised) on the CPU
    and returns int64 B x H x W ids on their device. ``keys`` (one hashable per image, or ``None``) name images
    that are a pure function of their key (training image, crop offsets, flip): their segments are computed once
    and reused, up to ``memo_bytes``. :meth:`stats` says how many were computed and reused, and the seconds.
    """

    def __init__(self, params: SegmentationParams, memo_bytes: int = MEMO_BYTES) -> None:
        self.params = params
        self.memo_bytes = memo_bytes
        self.memo: dict[Hashable, np.ndarray] = {}
        self.stored = 0
        self.computed = 0
        self.reused = 0
        self.seconds = 0.0

    def __call__(self, images: torch.Tensor, keys: Sequence[Hashable] | None = None) -> torch.Tensor:
        started = time.perf_counter()
        pixels: np.ndarray | None = None
        segments = []
        for index in range(len(images)):
            key = None if keys is None else keys[index]
            ids = None if key is None else self.memo.get(key)
            if ids is None:
                if pixels is None:  # H x W x 3 floats, as the authors' loaders hand them to scikit-image
                    pixels = images.detach().float().permute(0, 2, 3, 1).cpu().numpy()
                ids = felzenszwalb(pixels[index], scale=self.params.scale, sigma=self.params.sigma,
                                   min_size=self.params.min_size)
                self.computed += 1
                if key is not None and self.stored < self.memo_bytes:
                    ids = ids.astype(np.uint8 if ids.max() < 256 else np.int32)
                    self.memo[key] = ids
                    self.stored += ids.nbytes
            else:
                self.reused += 1
            segments.append(torch.from_numpy(ids.astype(np.int64)))
        self.seconds += time.perf_counter() - started
        return torch.stack(segments).to(images.device)

    def stats(self) -> dict[str, float]:
        """Segmentations computed and reused so far, and the seconds spent (with the copies to the CPU)."""
        return {"computed": self.computed, "reused": self.reused, "seconds": round(self.seconds, 3)}


