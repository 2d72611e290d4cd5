"""Same-class partners for mixing: for every sample a partner drawn uniformly from its class, itself
included (the protocol's pairs; pictures draw from the class without the image itself)."""

from __future__ import annotations

import torch


class SameClassPartners:
    """Samples, for each training image, a partner uniformly from its class (itself included).

    Built once from the labels of the training subset (positions ``0..n-1``); :meth:`sample` runs batched on
    the labels' device without Python loops, drawing from the given ``torch.Generator``.

    >>> partners = SameClassPartners(torch.tensor([0, 0, 1, 1, 1]))
    >>> p = partners.sample(torch.tensor([0, 2, 4]), torch.Generator().manual_seed(0))
    >>> partners.labels[p].tolist()
    [0, 1, 1]
    """

    def __init__(self, labels: torch.Tensor) -> None:
        labels = labels.long()
        self.labels = labels
        num_classes = int(labels.max()) + 1
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=num_classes)
        starts = torch.cumsum(counts, 0) - counts
        self._members = order
        self._counts = counts
        self._starts = starts

    def sample(self, positions: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Partner positions (same class) for the given positions in the training subset."""
        classes = self.labels[positions]
        uniform = torch.rand(positions.shape, generator=rng, device=rng.device)
        offset = (uniform.to(self.labels.device) * self._counts[classes]).long()
        offset = torch.minimum(offset, self._counts[classes] - 1)
        return self._members[self._starts[classes] + offset]

    def sample_other(self, positions: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Partner positions drawn uniformly from the class without the image itself (pictures show two images;
        itself only in a class of one): one of the first count - 1 members, the last one standing in for the
        image itself when drawn.

        >>> partners = SameClassPartners(torch.tensor([0, 0, 1, 1, 1, 2]))
        >>> p = partners.sample_other(torch.tensor([0, 1, 2, 3, 4, 5]), torch.Generator().manual_seed(0))
        >>> [int(a) != int(b) for a, b in zip(p, range(6))], partners.labels[p].tolist()
        ([True, True, True, True, True, False], [0, 0, 1, 1, 1, 2])
        """
        classes = self.labels[positions]
        others = torch.clamp(self._counts[classes] - 1, min=1)
        uniform = torch.rand(positions.shape, generator=rng, device=rng.device)
        offset = torch.minimum((uniform.to(self.labels.device) * others).long(), others - 1)
        drawn = self._members[self._starts[classes] + offset]
        last = self._members[self._starts[classes] + self._counts[classes] - 1]
        return torch.where(drawn == positions, last, drawn)
