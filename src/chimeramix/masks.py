"""Mixing masks m ∈ {0, 1}^{H' x W'} (paper section 3.2): a Bernoulli grid, or regions of a segmentation.

Sampling and applying are separate, as in torchvision's transforms v2: a sampler draws a whole batch of masks
on the device of the ``torch.Generator`` it is given (seeded, no Python loop over samples); the generator's
``compose`` (features) or :func:`mix` (pixels) applies them. A mask of ones keeps the first image x1.

Both kinds have one signature, ``masks.sample(count, size, rng, segments=None)``, and one factory,
:func:`build_masks`, from a :class:`~chimeramix.config.MaskConfig`; the generator and pixel-space mixing
(GridMix, SegMix) use the same samplers, with ``size`` the feature side (16 for CIFAR at 64 px) or the image
side. Segmentation masks choose regions of the pair's segment maps (``segments``: the maps of x1 and x2,
:mod:`chimeramix.segments`) and bring them to ``size`` by majority (area averaging, then >= 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F

from chimeramix.config import MaskConfig, RegionChoice
from chimeramix.errors import ChimeraMixError


class Masks(Protocol):
    """What every mask sampler offers."""

    def sample(self, count: int, size: int, rng: torch.Generator,
               segments: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``count`` x 1 x ``size`` x ``size`` float {0, 1} masks on ``rng.device``; ``segments``: the
        count x H x W segment ids of x1 and of x2 (segmentation masks only)."""
        ...


def build_masks(config: MaskConfig) -> GridMasks | SegmentationMasks:
    """The sampler of a resolved mask config."""
    if config.kind == "grid":
        return GridMasks(config.grid_cells, config.grid_p, bool(config.grid_shift))
    if config.kind == "seg":
        return SegmentationMasks(config.region_choice or "paper")
    raise ChimeraMixError(f"unknown mask kind {config.kind!r}; use 'grid' or 'seg'")


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
    random offset per batch (uniform in {0, ..., pad - 1}, pad = size // 4), so the cell borders move.
    """

    def __init__(self, cells: int = 4, p: float = 0.5, shift: bool = False) -> None:
        if cells < 1 or not 0.0 <= p <= 1.0:
            raise ChimeraMixError(f"grid masks need cells >= 1 and 0 <= p <= 1, got cells = {cells}, p = {p}")
        self.cells = cells
        self.p = p
        self.shift = shift

    def sample(self, count: int, size: int, rng: torch.Generator,
               segments: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``count`` x 1 x size x size float {0, 1} masks on ``rng.device`` (``segments`` unused)."""
        device = rng.device
        cells = torch.rand(count, 1, self.cells, self.cells, generator=rng, device=device) < self.p
        if not self.shift:
            return F.interpolate(cells.float(), size=(size, size), mode="nearest")
        grown = size * 5 // 4
        big = F.interpolate(cells.float(), size=(grown, grown), mode="nearest")
        top, left = torch.randint(0, max(grown - size, 1), (2,), generator=rng, device=device).tolist()
        return big[..., top : top + size, left : left + size]

    def __repr__(self) -> str:
        return f"GridMasks(cells={self.cells}, p={self.p}, shift={self.shift})"


class SegmentationMasks:
    """Masks made of segments of one image of the pair.

    Region choice ``paper``: every segment of x1 is chosen with probability 0.5 (Fig. 3: "for each region, we
    sample from a binomial distribution"). ``released`` (the authors' code), per sample on the segments of x2:
    n = its largest id + 1, l uniform in {0, ..., max(1, n - 1) - 1}, u uniform in {l + 1, ..., max(l + 2, n) - 1},
    the ids in [l, u) chosen; so for n >= 2 the last id never is (never an all-x1 mask), for n = 1 all are.
    The chosen segments are ones in the mask and are brought to ``size`` by majority.
    """

    def __init__(self, region_choice: RegionChoice = "paper") -> None:
        if region_choice not in ("paper", "released"):
            raise ChimeraMixError(f"unknown region choice {region_choice!r}; use 'paper' or 'released'")
        self.region_choice = region_choice

    def sample(self, count: int, size: int, rng: torch.Generator,
               segments: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``count`` x 1 x size x size float {0, 1} masks on ``rng.device`` from the pair's segment ids."""
        if segments is None or len(segments) < 2:
            raise ValueError("segmentation masks need the segment maps of x1 and x2")
        device = rng.device
        ids = (segments[0] if self.region_choice == "paper" else segments[1]).to(device).long()
        if ids.shape[0] != count:
            raise ValueError(f"{count} masks asked for, but {ids.shape[0]} segment maps given")
        n = ids.flatten(1).amax(dim=1) + 1  # segments per sample (ids are 0..n-1)
        if self.region_choice == "paper":
            chosen = torch.rand(count, int(n.max()), generator=rng, device=device) < 0.5
            region = chosen.gather(1, ids.flatten(1)).view_as(ids)
        else:
            low, high = released_range(n, rng)
            region = (ids >= low[:, None, None]) & (ids < high[:, None, None])
        return resize_mask(region[:, None].float(), size)

    def __repr__(self) -> str:
        return f"SegmentationMasks(region_choice={self.region_choice!r})"


def released_range(n: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The released code's id range [l, u) per sample, for ``n`` segments each (see :class:`SegmentationMasks`).

    >>> low, high = released_range(torch.tensor([1, 2]), torch.Generator().manual_seed(0))
    >>> low.tolist(), high.tolist()
    ([0, 0], [1, 1])
    """
    uniform = torch.rand(2, len(n), generator=rng, device=rng.device)
    low = (uniform[0] * torch.clamp(n - 1, min=1)).long()
    choices = torch.maximum(low + 2, n) - 1 - low  # size of {l + 1, ..., max(l + 2, n) - 1}
    high = low + 1 + (uniform[1] * choices).long()
    return low, high
