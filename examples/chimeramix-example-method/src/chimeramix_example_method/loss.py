"""``smooth-ce``'s loss: cross-entropy against targets smoothed towards the uniform distribution (Szegedy et al.
2016), the classifier's criterion instead of plain cross-entropy."""

from __future__ import annotations

from typing import Any

from torch import nn

SMOOTHING = 0.1
"""The weight of the uniform distribution in the targets."""


def smoothed_cross_entropy(config: Any, num_classes: int) -> nn.Module:
    """The ``criterion`` hook of ``smooth-ce``: class indices and mixed (soft) targets alike are smoothed."""
    return nn.CrossEntropyLoss(label_smoothing=SMOOTHING)
