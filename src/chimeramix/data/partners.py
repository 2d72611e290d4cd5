"""Same-class partners for mixing: for every sample a partner drawn uniformly from its class, itself
included (the protocol's pairs)."""

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
