"""The label-mixing methods (``mixup``: Zhang et al. 2018, ``cutmix``: Yun et al. 2019): every batch, lambda ~
Beta(1, 1), soft labels (torchvision v2)."""

from __future__ import annotations

from torch import nn
from torchvision.transforms import v2

MIXING_ALPHA = 1.0


def label_mixing_transform(name: str | None, num_classes: int) -> nn.Module | None:
    """The batch transform of a label-mixing component (``mixup``, ``cutmix``), or ``None``."""
    if name == "mixup":
        return v2.MixUp(alpha=MIXING_ALPHA, num_classes=num_classes)
    if name == "cutmix":
        return v2.CutMix(alpha=MIXING_ALPHA, num_classes=num_classes)
    return None
