"""The policy methods (``autoaugment``, ``trivialaugment``): each a per-image torchvision v2 transform, named by its
registry entry's ``transform`` (``module:function``: image size -> transform)."""

from __future__ import annotations

from torch import nn
from torchvision.transforms import v2


def auto_augment(image_size: int) -> nn.Module:
    """AutoAugment: the CIFAR-10 policy up to 64 px, the ImageNet policy above."""
    return v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10 if image_size <= 64 else v2.AutoAugmentPolicy.IMAGENET)


def trivial_augment(image_size: int) -> nn.Module:
    """TrivialAugment (wide), the same at every image size."""
    return v2.TrivialAugmentWide()
