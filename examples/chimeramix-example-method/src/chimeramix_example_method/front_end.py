"""The network of ``pooled``: a fixed average pooling (the front end, no parameters), then a WideResNet-10 of
width W (the top model, which ends in the final layer ``fc``, as chimeramix's feature extraction expects)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chimeramix.models.wide_resnet import WideResNet


class PooledNetwork(nn.Module):
    def __init__(self, kernel: int, width: int, num_classes: int) -> None:
        super().__init__()
        self.front = nn.AvgPool2d(kernel)
        self.top = WideResNet(10, width, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.top(self.front(images))


def build(width: int, num_classes: int, component: str | None, settings: dict[str, Any] | None,
          image_size: int | None) -> PooledNetwork:
    """``pooled-wrn-W`` with the settings' kernel (2 when loading weights without them)."""
    return PooledNetwork(int((settings or {}).get("kernel", 2)), width, num_classes)
