"""Mixing masks m ∈ {0, 1}^{H' x W'} (paper section 3.2): grid and segmentation.

Sampling and applying are separate, as in torchvision's transforms v2: a sampler draws a whole batch of masks
on the device of the ``torch.Generator`` it is given (seeded, no Python loop over samples); the generator's
``compose`` (features) or :func:`mix` (pixels) applies them. A mask of ones keeps the first image.

Sizes: the same samplers serve the generator (``size`` = feature side, e.g. 16 for CIFAR at 64 px) and pixel
space mixing (``size`` = image side).

Segmentations are computed once, at the dataset's image size (32 x 32 for CIFAR, 96 x 96 for STL-10), for
every training image and its horizontal flip (:func:`segment_cache`), so training never segments in the
loop; the chosen regions are brought to the mask size by majority (area averaging, then >= 0.5).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import felzenszwalb

from chimeramix.config import RegionChoice
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write

SEGMENTS_FILE = "segments.npz"


def resize_mask(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Bring a B x 1 x h x w {0, 1} mask to ``size`` x ``size``: by majority when shrinking (area average,
    then >= 0.5), by nearest neighbour when growing."""
    if mask.shape[-1] == size and mask.shape[-2] == size:
        return mask
    if mask.shape[-1] > size:
        return (F.interpolate(mask.float(), size=(size, size), mode="area") >= 0.5).float()
    return F.interpolate(mask.float(), size=(size, size), mode="nearest")


def mix(x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x1 * m + x2 * (1 - m)`` with the mask resized to the inputs' spatial size."""
    mask = resize_mask(mask, x1.shape[-1]).to(x1.dtype)
    return x1 * mask + x2 * (1 - mask)


class GridMasks:
    """Per-sample Bernoulli(p) cells on a ``cells`` x ``cells`` grid, nearest-upsampled to the mask size.

    ``shift=True`` follows the authors' code: the grid is upsampled to 5/4 of the size and cropped at one
    random offset per batch, so the cell borders move.
    """

    def __init__(self, cells: int = 4, p: float = 0.5, shift: bool = False) -> None:
        if cells < 1 or not 0.0 <= p <= 1.0:
            raise ChimeraMixError(f"grid masks need cells >= 1 and 0 <= p <= 1, got cells = {cells}, p = {p}")
        self.cells = cells
        self.p = p
        self.shift = shift

    def sample(self, batch_size: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """B x 1 x size x size float {0, 1} masks on ``generator.device``."""
        device = generator.device
        cells = torch.rand(batch_size, 1, self.cells, self.cells, generator=generator, device=device) < self.p
        if not self.shift:
            return F.interpolate(cells.float(), size=(size, size), mode="nearest")
        grown = size * 5 // 4
        big = F.interpolate(cells.float(), size=(grown, grown), mode="nearest")
        top, left = torch.randint(0, grown - size + 1, (2,), generator=generator, device=device).tolist()
        return big[..., top : top + size, left : left + size]

    def __repr__(self) -> str:
        return f"GridMasks(cells={self.cells}, p={self.p}, shift={self.shift})"


class SegmentationMasks:
    """Masks made of segments of an image (a B x H x W map of segment ids, one map per sample).

    Region choice ``paper``: every segment is chosen with probability 0.5 (Fig. 3: "for each region, we
    sample from a binomial distribution"). ``released`` (the authors' code): a random contiguous range of
    segment ids, from ``min(a, b)`` to ``max(a, b)`` for two ids a, b drawn uniformly. The chosen segments are
    ones in the mask and are brought to ``size`` by majority.
    """

    def __init__(self, region_choice: RegionChoice = "paper") -> None:
        if region_choice not in ("paper", "released"):
            raise ChimeraMixError(f"unknown region choice {region_choice!r}; use 'paper' or 'released'")
        self.region_choice = region_choice

    def sample(self, segments: torch.Tensor, generator: torch.Generator, size: int) -> torch.Tensor:
        """B x 1 x size x size float {0, 1} masks on ``generator.device`` from B x H x W segment ids."""
        device = generator.device
        segments = segments.to(device).long()
        batch = segments.shape[0]
        count = segments.flatten(1).amax(dim=1) + 1  # segments per sample (ids are 0..count-1)
        if self.region_choice == "paper":
            chosen = torch.rand(batch, int(count.max()), generator=generator, device=device) < 0.5
            region = chosen.gather(1, segments.flatten(1)).view_as(segments)
        else:
            ends = (torch.rand(batch, 2, generator=generator, device=device) * count[:, None]).long()
            low, high = ends.amin(dim=1), ends.amax(dim=1)
            region = (segments >= low[:, None, None]) & (segments <= high[:, None, None])
        return resize_mask(region[:, None].float(), size)

    def __repr__(self) -> str:
        return f"SegmentationMasks(region_choice={self.region_choice!r})"


# ------------------------------------------------------------------------------------------------ segments


@dataclass(frozen=True)
class SegmentationParams:
    """Felzenszwalb parameters (supplement C.1: scale = min_size = 60 for 32 px data, 400 for STL-10)."""

    scale: float = 60.0
    min_size: int = 60
    sigma: float = 0.8


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

    ``path`` is the cache file, or a folder (a run directory) that holds :data:`SEGMENTS_FILE`. The cache
    is reused when it was made from the same pixels and parameters, and recomputed (and rewritten) otherwise.
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / SEGMENTS_FILE
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
