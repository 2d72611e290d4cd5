"""Classifier architectures by name (``ClassifierConfig.architecture``).

- ``wrn-D-W``: our :class:`~chimeramix.models.wide_resnet.WideResNet` of depth D and width W. The paper
  uses ``wrn-16-8`` for the 32 px datasets (ciFAIR-10/100, supplement C.2); smaller ones such as ``wrn-16-2``
  keep CPU runs short.
- ``resnet50``: torchvision's ResNet-50 without pretrained weights (``weights=None``), the paper's network
  for STL-10 at 96 x 96.
- ``scattering-wrn-W``: Parametric Scattering Networks' hybrid (:mod:`chimeramix.methods.scattering.network`): the
  scattering front end (learnable or fixed Morlet wavelets, tight-frame or random initialisation), then the
  modified WideResNet of width W on its 243 maps (the paper's ``scattering-wrn-8``: 22.6 M parameters). The
  methods ``scattering`` and ``scattering-fixed`` train it; no other method does.

User folders get an architecture by image size through :func:`chimeramix.config.folder_protocol`: up to
64 px the CIFAR recipe (``wrn-16-8``), larger images the STL-10 recipe (``resnet50``). Both networks end in
global average pooling, so they accept any image size.

>>> import torch
>>> build_classifier("wrn-10-1", num_classes=10)(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import re

import torchvision
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.methods.scattering.morlet import FilterInit
from chimeramix.methods.scattering.network import ScatteringClassifier, ScatteringWideResNet
from chimeramix.methods.scattering.transform import Scattering
from chimeramix.models.wide_resnet import WideResNet

ARCHITECTURES: tuple[str, ...] = ("wrn-16-8", "resnet50", "scattering-wrn-8")
"""The paper's architectures; any ``wrn-D-W`` (D = 6n + 4) and ``scattering-wrn-W`` is accepted too."""

_WRN = re.compile(r"wrn-(\d+)-(\d+)")
SCATTERING_TOP = re.compile(r"scattering-wrn-(\d+)")
"""The hybrid of the scattering front end and the modified WideResNet of width W."""


def build_classifier(name: str, num_classes: int, *, dropout: float = 0.0, learnable_filters: bool = True,
                     filter_init: FilterInit = "tight-frame") -> nn.Module:
    """A freshly initialised classifier; ``dropout`` applies to WideResNets (ResNet-50 and the scattering top
    model have none), ``learnable_filters`` and ``filter_init`` to the scattering front end."""
    match = _WRN.fullmatch(name)
    if match is not None:
        return WideResNet(int(match[1]), int(match[2]), num_classes, dropout=dropout)
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None, num_classes=num_classes)
    match = SCATTERING_TOP.fullmatch(name)
    if match is not None:
        return ScatteringClassifier(Scattering(learnable=learnable_filters, init=filter_init),
                                    ScatteringWideResNet(int(match[1]), num_classes))
    raise ChimeraMixError(
        f"unknown classifier architecture {name!r}; use {', '.join(ARCHITECTURES)} (or any wrn-DEPTH-WIDTH or "
        "scattering-wrn-WIDTH)"
    )


def is_scattering_architecture(name: str) -> bool:
    """Whether ``name`` is the scattering hybrid (``scattering-wrn-W``)."""
    return SCATTERING_TOP.fullmatch(name) is not None


def classification_head(model: nn.Module) -> nn.Module:
    """The module that ends in the final layer ``fc``: the network itself, or the ``top`` model of a network with
    a front end (which keeps its head there)."""
    head = getattr(model, "top", model)
    assert isinstance(head, nn.Module)
    return head


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
