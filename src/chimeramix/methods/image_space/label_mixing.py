"""The label-mixing methods (``mixup``: Zhang et al. 2018, ``cutmix``: Yun et al. 2019): every batch, lambda ~
Beta(1, 1), soft labels (torchvision v2)."""

from __future__ import annotations

from torch import nn
from torchvision.transforms import v2

MIXING_ALPHA = 1.0


def mixup(num_classes: int) -> nn.Module:
    """``mixup``'s batch transform (its registry entry's ``transform``)."""
    return v2.MixUp(alpha=MIXING_ALPHA, num_classes=num_classes)


def cutmix(num_classes: int) -> nn.Module:
    """``cutmix``'s batch transform (its registry entry's ``transform``)."""
    return v2.CutMix(alpha=MIXING_ALPHA, num_classes=num_classes)
