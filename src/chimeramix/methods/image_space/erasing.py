"""The erasing methods, each an :class:`~chimeramix.components.hooks.Erasing` stage of the per-step augmentation
(their registry entries' ``transform``): ``cutout`` (DeVries & Taylor 2017, one square hole per image, batched,
split into :func:`sample_cutout` and :func:`cutout`: :class:`Cutout`) and ``random-erasing`` (Zhong et al. 2020:
torchvision's v2 transform with :data:`RANDOM_ERASING` in the paper order, :class:`ReleasedRandomErasing` before
normalising in the released one: :class:`RandomErasing`)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.transforms import v2

from chimeramix.image_ops import per_image, sample_seed

RANDOM_ERASING = {"p": 0.5, "scale": (0.02, 0.4), "ratio": (0.3, 3.3)}


def sample_cutout(batch_size: int, height: int, width: int, rng: torch.Generator) -> torch.Tensor:
    """Hole centres (B x 2: row, column), uniform over the image."""
    rows = torch.randint(0, height, (batch_size,), generator=rng, device=rng.device)
    columns = torch.randint(0, width, (batch_size,), generator=rng, device=rng.device)
    return torch.stack([rows, columns], dim=1)


def cutout(images: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square around each centre (rows ``c - size // 2`` up to, not including,
    ``c - size // 2 + size``), clipped at the border as in DeVries & Taylor's code."""
    _, _, height, width = images.shape
    start = centres - size // 2
    rows = torch.arange(height, device=images.device)
    columns = torch.arange(width, device=images.device)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + size)
    in_columns = (columns >= start[:, 1:]) & (columns < start[:, 1:] + size)
    hole = in_rows[:, :, None] & in_columns[:, None, :]
    return images.masked_fill(hole[:, None], 0.0)


class Cutout:
    """``cutout``'s stage: a hole of side ``size`` per image, after normalising (the hole is the normalised zero)."""

    normalised = True

    def __init__(self, released: bool, size: int) -> None:
        self.size = size

    def sample(self, count: int, height: int, width: int, rng: torch.Generator) -> torch.Tensor:
        return sample_cutout(count, height, width, rng)

    def apply(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        return cutout(images, draws, self.size)


class RandomErasing:
    """``random-erasing``'s stage, one image at a time from a seed: torchvision's transform after normalising (its
    noise is N(0, 1) like the normalised pixels) in the paper order; the authors' class before normalising (uniform
    noise in [0, 1)) in the released one."""

    def __init__(self, released: bool, size: int) -> None:
        self.normalised = not released
        self.transform = (ReleasedRandomErasing() if released
                          else v2.RandomErasing(**RANDOM_ERASING, value="random"))

    def sample(self, count: int, height: int, width: int, rng: torch.Generator) -> int:
        return sample_seed(rng)

    def apply(self, images: torch.Tensor, draws: int) -> torch.Tensor:
        return per_image(self.transform, images, draws)


class ReleasedRandomErasing(nn.Module):
    """Random Erasing as the authors' code applies it (Zhong et al.'s own class), to one image in [0, 1] before
    normalising, with torch's global RNG: with probability ``p`` a box of area uniform in ``scale`` of the image
    and aspect ratio h / w uniform in [``ratio``, 1 / ``ratio``] (torchvision draws it log-uniform), placed
    uniformly where it fits (up to ``attempts`` tries; then nothing), filled with noise uniform in [0, 1)."""

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.4), ratio: float = 0.3,
                 attempts: int = 100) -> None:
        super().__init__()
        self.p, self.scale, self.ratio, self.attempts = p, scale, ratio, attempts

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()).item() > self.p:
            return image
        channels, height, width = image.shape
        for _ in range(self.attempts):
            area = float(torch.empty(()).uniform_(*self.scale)) * height * width
            aspect = float(torch.empty(()).uniform_(self.ratio, 1 / self.ratio))
            box_height, box_width = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if box_height < height and box_width < width:
                top = int(torch.randint(0, height - box_height + 1, ()))
                left = int(torch.randint(0, width - box_width + 1, ()))
                erased = image.clone()
                erased[:, top : top + box_height, left : left + box_width] = torch.rand(channels, box_height,
                                                                                         box_width)
                return erased
        return image
