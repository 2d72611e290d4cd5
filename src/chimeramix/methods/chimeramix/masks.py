"""Mixing masks m ∈ {0, 1}^{H' x W'} (paper section 3.2): a Bernoulli grid, or regions of a segmentation; and
their generalisation to N images, weights M ∈ [0, 1]^{N x H' x W'} that sum to 1 at every location.

Sampling and applying are separate, as in torchvision's transforms v2: a sampler draws a whole batch of masks
on the device of the ``torch.Generator`` it is given (seeded, no Python loop over samples); the generator's
``compose`` (features) or :func:`mix` (pixels) applies them. A mask of ones keeps the first image x1.

Both kinds have one signature, ``masks.sample(count, size, rng, segments=None)``, and one factory,
:func:`build_masks`, from a :class:`~chimeramix.config.MaskConfig`; the generator and pixel-space mixing
(GridMix, SegMix) use the same samplers, with ``size`` the feature side (16 for CIFAR at 64 px) or the image
side. Segmentation masks choose regions of the pair's segment maps (``segments``: the maps of x1 and x2,
:mod:`chimeramix.methods.chimeramix.segments`; a sampler names the ones it reads in ``segment_images``, the others may
be ``None``)
and bring them to ``size`` by majority (area averaging, then >= 0.5; the ``paper`` recipe) or by nearest
sampling (the authors' code, ``released``): ``MaskConfig.mask_downsampling``.

Multi-image mixing (beyond the paper; the authors' HydraMix follow-up) composes g(Σ_n M_n ⊙ f(x_n)):
:func:`build_image_masks` gives a sampler of count x N x size x size weights, either the two-image masks as
(m, 1 - m) or :class:`MultiImageMasks`, and :func:`blend` applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F

from chimeramix.config import MaskConfig, MaskDownsampling, RegionChoice
from chimeramix.errors import ChimeraMixError
from chimeramix.gamma import sample_gamma

SegmentMaps = Sequence[torch.Tensor | None]
"""The count x H x W segment ids of every image of a group (x1, x2, ...); ``None`` for an image whose segments
the sampler does not read (see ``segment_images``)."""


class Masks(Protocol):
    """What every mask sampler offers."""

    segment_images: tuple[int, ...]
    """The images of a group whose segment maps :meth:`sample` reads (none for grid masks)."""

    def sample(self, count: int, size: int, rng: torch.Generator, segments: SegmentMaps | None = None
               ) -> torch.Tensor:
        """``count`` x 1 x ``size`` x ``size`` float {0, 1} masks on ``rng.device``; ``segments``: the
        count x H x W segment ids of x1 and of x2 (segmentation masks only)."""
        ...


def build_masks(config: MaskConfig) -> GridMasks | SegmentationMasks:
    """The sampler of a resolved mask config."""
    if config.kind == "grid":
        return GridMasks(config.grid_cells, config.grid_p, bool(config.grid_shift))
    if config.kind == "seg":
        return SegmentationMasks(config.region_choice or "paper", config.mask_downsampling or "majority")
    raise ChimeraMixError(f"unknown mask kind {config.kind!r}; use 'grid' or 'seg'")


def resize_mask(mask: torch.Tensor, size: int, downsampling: MaskDownsampling = "majority") -> torch.Tensor:
    """Bring a B x 1 x h x w {0, 1} mask to ``size`` x ``size``: when shrinking by majority (area average, then
    >= 0.5) or by nearest sampling (``F.interpolate``'s, as the authors' code), by nearest neighbour when
    growing."""
    if mask.shape[-1] == size and mask.shape[-2] == size:
        return mask
    if mask.shape[-1] > size and downsampling == "majority":
        return (F.interpolate(mask.float(), size=(size, size), mode="area") >= 0.5).float()
    return F.interpolate(mask.float(), size=(size, size), mode="nearest")


def mix(x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x1 * m + x2 * (1 - m)`` with the mask resized to the inputs' spatial size."""
    mask = resize_mask(mask, x1.shape[-1]).to(x1.dtype)
    return x1 * mask + x2 * (1 - mask)


def grid_to_size(cells: torch.Tensor, size: int, shift: bool, rng: torch.Generator) -> torch.Tensor:
    """B x C x g x g grid cells nearest-upsampled to ``size`` x ``size``; with ``shift`` as the authors' code:
    upsampled to size + pad (pad = size // g) and cropped at one random offset per batch, uniform in
    {0, ..., pad - 1}, so the cell borders move (5/4 of the size for the default 4 x 4 grid)."""
    if not shift:
        return F.interpolate(cells, size=(size, size), mode="nearest")
    pad = size // cells.shape[-1]
    big = F.interpolate(cells, size=(size + pad, size + pad), mode="nearest")
    top, left = torch.randint(0, max(pad, 1), (2,), generator=rng, device=rng.device).tolist()
    return big[..., top : top + size, left : left + size]


class GridMasks:
    """Per-sample Bernoulli(p) cells on a ``cells`` x ``cells`` grid, nearest-upsampled to the mask size
    (``shift=True``: shifted by a random offset per batch, :func:`grid_to_size`)."""

    segment_images: tuple[int, ...] = ()

    def __init__(self, cells: int = 4, p: float = 0.5, shift: bool = False) -> None:
        if cells < 1 or not 0.0 <= p <= 1.0:
            raise ChimeraMixError(f"grid masks need cells >= 1 and 0 <= p <= 1, got cells = {cells}, p = {p}")
        self.cells = cells
        self.p = p
        self.shift = shift

    def sample(self, count: int, size: int, rng: torch.Generator, segments: SegmentMaps | None = None
               ) -> torch.Tensor:
        """``count`` x 1 x size x size float {0, 1} masks on ``rng.device`` (``segments`` unused)."""
        device = rng.device
        cells = torch.rand(count, 1, self.cells, self.cells, generator=rng, device=device) < self.p
        return grid_to_size(cells.float(), size, self.shift, rng)

    def __repr__(self) -> str:
        return f"GridMasks(cells={self.cells}, p={self.p}, shift={self.shift})"


class SegmentationMasks:
    """Masks made of segments of one image of the pair.

    Region choice ``paper``: every segment of x1 is chosen with probability 0.5 (Fig. 3: "for each region, we
    sample from a binomial distribution"). ``released`` (the authors' code), per sample on the segments of x2:
    n = its largest id + 1, l uniform in {0, ..., max(1, n - 1) - 1}, u uniform in {l + 1, ..., max(l + 2, n) - 1},
    the ids in [l, u) chosen; so for n >= 2 the last id never is (never an all-x1 mask), for n = 1 all are.
    The chosen segments are ones in the mask and are brought to ``size`` by ``downsampling`` (majority or
    nearest, :func:`resize_mask`).
    """

    def __init__(self, region_choice: RegionChoice = "paper", downsampling: MaskDownsampling = "majority") -> None:
        if region_choice not in ("paper", "released"):
            raise ChimeraMixError(f"unknown region choice {region_choice!r}; use 'paper' or 'released'")
        if downsampling not in ("majority", "nearest"):
            raise ChimeraMixError(f"unknown mask downsampling {downsampling!r}; use 'majority' or 'nearest'")
        self.region_choice = region_choice
        self.downsampling = downsampling
        self.segment_images = (0,) if region_choice == "paper" else (1,)

    def sample(self, count: int, size: int, rng: torch.Generator, segments: SegmentMaps | None = None
               ) -> torch.Tensor:
        """``count`` x 1 x size x size float {0, 1} masks on ``rng.device`` from the pair's segment ids."""
        used = None if segments is None or len(segments) < 2 else segments[self.segment_images[0]]
        if used is None:
            raise ValueError(f"segmentation masks need the segment maps of x{self.segment_images[0] + 1}")
        device = rng.device
        ids = used.to(device).long()
        if ids.shape[0] != count:
            raise ValueError(f"{count} masks asked for, but {ids.shape[0]} segment maps given")
        n = ids.flatten(1).amax(dim=1) + 1  # segments per sample (ids are 0..n-1)
        if self.region_choice == "paper":
            chosen = torch.rand(count, int(n.max()), generator=rng, device=device) < 0.5
            region = chosen.gather(1, ids.flatten(1)).view_as(ids)
        else:
            low, high = released_range(n, rng)
            region = (ids >= low[:, None, None]) & (ids < high[:, None, None])
        return resize_mask(region[:, None].float(), size, self.downsampling)

    def __repr__(self) -> str:
        return f"SegmentationMasks(region_choice={self.region_choice!r}, downsampling={self.downsampling!r})"


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


# --------------------------------------------------------------------------------------- N-image weights


class ImageMasks(Protocol):
    """What every sampler of N-image weights offers."""

    images: int
    """N, the number of images a composition mixes (the weights' second dimension)."""

    def sample(self, count: int, size: int, rng: torch.Generator,
               segments: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``count`` x N x ``size`` x ``size`` float weights in [0, 1] that sum to 1 over N, on ``rng.device``;
        ``segments``: the count x H x W segment ids of each of the N images (segmentation masks only)."""
        ...


def build_image_masks(config: MaskConfig) -> TwoImageMasks | MultiImageMasks:
    """The N-image sampler of a resolved mask config: the two-image masks as weights (m, 1 - m), or
    :class:`MultiImageMasks` (N > 2, a range of N, or soft weights)."""
    return MultiImageMasks(config) if config.multi_image else TwoImageMasks(build_masks(config))


class TwoImageMasks:
    """ChimeraMix's two-image masks m as the weights (m, 1 - m) of x1 and x2."""

    images = 2

    def __init__(self, masks: GridMasks | SegmentationMasks) -> None:
        self.masks = masks
        self.segment_images = masks.segment_images

    def sample(self, count: int, size: int, rng: torch.Generator, segments: SegmentMaps | None = None
               ) -> torch.Tensor:
        mask = self.masks.sample(count, size, rng, segments)
        return torch.cat([mask, 1 - mask], dim=1)

    def __repr__(self) -> str:
        return f"TwoImageMasks({self.masks!r})"


class MultiImageMasks:
    """Weights M ∈ [0, 1]^{N x size x size}, Σ_n M_n = 1, over units: the cells of a grid, or the regions of a
    segmentation (of the first image, or of a random one of the N: ``partition``).

    With ``min_images < images`` the number of images mixed, N, is drawn per batch from
    ``min_images..images``; the weights of the images beyond N are zero. ``hard`` weights give every unit to one
    of the N images, uniformly (for N = 2 the same draws give exactly the two-image masks of the default
    ``grid_p`` 0.5 and the ``paper`` region choice); ``soft`` weights are Dirichlet(``concentration``) per unit.
    Grid cells are nearest-upsampled (and shifted when ``grid_shift``: :func:`grid_to_size`); regions are brought
    to ``size`` by area averaging (hard weights: then the majority image), or by nearest sampling
    (``mask_downsampling``). ``grid_p`` and ``region_choice`` are two-image settings and not used.
    """

    def __init__(self, config: MaskConfig) -> None:
        low = config.min_images or config.images
        if not 2 <= low <= config.images:
            raise ChimeraMixError(f"multi-image masks need 2 <= min_images <= images, got min_images = {low}, "
                                  f"images = {config.images}; pass e.g. --images 3 --min-images 2")
        if config.weights not in ("hard", "soft") or config.partition not in ("first", "random"):
            raise ChimeraMixError(f"unknown multi-image mask weights {config.weights!r} or partition "
                                  f"{config.partition!r}; use hard/soft and first/random")
        if config.concentration <= 0:
            raise ChimeraMixError(f"the Dirichlet concentration must be positive, got {config.concentration}")
        if config.kind not in ("grid", "seg"):
            raise ChimeraMixError(f"unknown mask kind {config.kind!r}; use 'grid' or 'seg'")
        self.kind = config.kind
        self.images = config.images
        self.min_images = low
        self.soft = config.weights == "soft"
        self.concentration = config.concentration
        self.partition = config.partition
        self.cells = config.grid_cells
        self.shift = bool(config.grid_shift)
        self.downsampling = config.mask_downsampling or "majority"
        whose = (0,) if config.partition == "first" else tuple(range(config.images))
        self.segment_images = whose if config.kind == "seg" else ()

    def sample(self, count: int, size: int, rng: torch.Generator, segments: SegmentMaps | None = None
               ) -> torch.Tensor:
        """count x N x size x size weights on ``rng.device`` (``segments``: the maps of the N images)."""
        n: int | torch.Tensor = self.images
        if self.min_images < self.images:
            n = torch.randint(self.min_images, self.images + 1, (), generator=rng, device=rng.device)
        if self.kind == "grid":
            cells = self._unit_weights(count, self.cells * self.cells, n, rng)
            return grid_to_size(cells.view(count, self.images, self.cells, self.cells), size, self.shift, rng)
        ids = self._partition(count, n, rng, segments)
        units = int(ids.flatten(1).amax()) + 1
        weights = self._unit_weights(count, units, n, rng)
        flat = ids.flatten(1)[:, None].expand(-1, self.images, -1)
        return self._resize(weights.gather(2, flat).view(count, self.images, *ids.shape[-2:]), size)

    def _unit_weights(self, count: int, units: int, n: int | torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """count x N x units weights: one-hot of a uniform image index < n, or Dirichlet over the first n."""
        device = rng.device
        if not self.soft:
            index = torch.minimum((torch.rand(count, units, generator=rng, device=device) * n).long(),
                                  torch.as_tensor(n, device=device) - 1)
            return F.one_hot(index, self.images).permute(0, 2, 1).float()
        active = torch.arange(self.images, device=device)[None, :, None] < n
        gamma = sample_gamma(self.concentration, (count, self.images, units), rng) * active
        return gamma / gamma.sum(dim=1, keepdim=True)

    def _partition(self, count: int, n: int | torch.Tensor, rng: torch.Generator,
                   segments: SegmentMaps | None) -> torch.Tensor:
        """The count x H x W segment ids whose regions are the units."""
        given = [] if segments is None else [segments[n] for n in self.segment_images if n < len(segments)]
        if len(given) < len(self.segment_images) or any(ids is None for ids in given):
            raise ValueError(f"multi-image segmentation masks need the segment maps of images {self.segment_images}")
        maps = torch.stack([ids.to(rng.device).long() for ids in given if ids is not None])
        if self.partition == "first":
            return maps[0]
        chosen = (torch.rand(count, generator=rng, device=rng.device) * n).long()
        return maps[chosen, torch.arange(count, device=rng.device)]

    def _resize(self, weights: torch.Tensor, size: int) -> torch.Tensor:
        if weights.shape[-1] <= size:
            return resize_weights(weights, size)
        if self.downsampling == "nearest":
            return F.interpolate(weights, size=(size, size), mode="nearest")
        averaged = F.interpolate(weights, size=(size, size), mode="area")
        if self.soft:
            return averaged
        return F.one_hot(averaged.argmax(dim=1), self.images).permute(0, 3, 1, 2).float()

    def __repr__(self) -> str:
        return (f"MultiImageMasks(kind={self.kind!r}, images={self.min_images}..{self.images}, soft={self.soft}, "
                f"concentration={self.concentration}, partition={self.partition!r})")


def resize_weights(weights: torch.Tensor, size: int) -> torch.Tensor:
    """B x N x h x w weights at ``size`` x ``size``: nearest neighbour when growing, area average when shrinking
    (both keep the sum over N at 1)."""
    if weights.shape[-1] == size and weights.shape[-2] == size:
        return weights
    mode = "nearest" if weights.shape[-1] < size else "area"
    return F.interpolate(weights, size=(size, size), mode=mode)


def blend(stack: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_n M_n ⊙ x_n of ``stack`` (N x B x C x h x w: images or features) under B x N x h' x w' ``weights``
    (resized to h x w by :func:`resize_weights`). For two images, the same values as :func:`mix` of m = M_1.

    >>> stack = torch.stack([torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)])
    >>> blend(stack, torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]]).expand(1, 2, 2, 2)).flatten().tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    weights = resize_weights(weights, stack.shape[-1]).to(stack.dtype)
    blended = stack[0] * weights[:, 0:1]
    for n in range(1, stack.shape[0]):
        blended = blended + stack[n] * weights[:, n : n + 1]
    return blended
