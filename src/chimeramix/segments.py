"""Felzenszwalb segmentations of the training images, computed once per image and its flip, and cached.

Segmentation masks (:class:`chimeramix.masks.SegmentationMasks`) choose regions of these segments. They are
computed at the dataset's image size (32 x 32 for CIFAR, 96 x 96 for STL-10) for every training image and its
horizontal flip (:func:`segment_cache`), so training never segments in the loop.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
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


def unflipped_segments(path: str | os.PathLike[str], images: np.ndarray, masks: MaskConfig) -> np.ndarray | None:
    """The cached segments of ``images`` themselves (N x H x W, not their flips: the paper's stage order mixes
    before the flip) when ``masks`` are segmentation masks, else ``None``."""
    if masks.kind != "seg":
        return None
    return segment_cache(path, images, SegmentationParams.of(masks))[:, 0]
