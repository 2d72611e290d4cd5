"""Classifier architectures by name (``ClassifierConfig.architecture``).

- ``wrn-D-W``: our :class:`~chimeramix.models.wide_resnet.WideResNet` of depth D and width W. The paper
  uses ``wrn-16-8`` for the 32 px datasets (ciFAIR-10/100, supplement C.2); smaller ones such as ``wrn-16-2``
  keep CPU runs short.
- ``resnet50``: torchvision's ResNet-50 without pretrained weights (``weights=None``), the paper's network
  for STL-10 at 96 x 96.
- a front end's network (``NAME-wrn-W``, say): the front-end component declares it
  (:class:`~chimeramix.components.hooks.FrontEnd`) and builds it; only the methods with that front end train it.

User folders get an architecture by image size through :func:`chimeramix.config.folder_protocol`: up to
64 px the CIFAR recipe (``wrn-16-8``), larger images the STL-10 recipe (``resnet50``). Both networks end in
global average pooling, so they accept any image size.

>>> import torch
>>> build_classifier("wrn-10-1", num_classes=10)(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torchvision
from torch import nn

from chimeramix.components.hooks import FrontEnd, load_reference
from chimeramix.components.registry import all_hooks, front_end_of, parse_method
from chimeramix.errors import ChimeraMixError
from chimeramix.models.wide_resnet import WideResNet

ARCHITECTURES: tuple[str, ...] = ("wrn-16-8", "resnet50")
"""The paper's networks of the protocol; any ``wrn-D-W`` (D = 6n + 4) and a front end's network is accepted too."""

_WRN = re.compile(r"wrn-(\d+)-(\d+)")


def build_classifier(name: str, num_classes: int, *, dropout: float = 0.0, component: str | None = None,
                     settings: dict[str, Any] | None = None, image_size: int | None = None) -> nn.Module:
    """A freshly initialised classifier; ``dropout`` applies to WideResNets (ResNet-50 and a front end's top
    model have none). A front end's network is built by its component (``component``, its ``settings`` and the
    ``image_size``, :class:`~chimeramix.components.hooks.FrontEnd`; ``None``: its defaults, to load weights into)."""
    front_end = front_end_of(name)
    if front_end is not None:
        return _front_end_network(front_end, name, num_classes, component, settings, image_size)
    return protocol_network(name, num_classes, dropout=dropout)


def protocol_network(name: str, num_classes: int, *, dropout: float = 0.0) -> nn.Module:
    """A network of the protocol's kind: ``wrn-D-W`` or ``resnet50``; another name is an error that lists them and
    the front ends' networks."""
    match = _WRN.fullmatch(name)
    if match is not None:
        return WideResNet(int(match[1]), int(match[2]), num_classes, dropout=dropout)
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None, num_classes=num_classes)
    networks = [hooks.front_end.name("WIDTH") for hooks in all_hooks().values() if hooks.front_end is not None]
    raise ChimeraMixError(
        f"unknown classifier architecture {name!r}; use {', '.join(ARCHITECTURES)} (or any wrn-DEPTH-WIDTH"
        f"{''.join(f' or {network}' for network in networks)})"
    )


def network_of(architecture: str, method: str, sections: Mapping[str, Any], num_classes: int, *,
               dropout: float = 0.0, image_size: int | None = None) -> nn.Module:
    """The network of a classifier trained with ``method``: its architecture, a front end's built by the method's
    front-end component with that component's section of ``sections`` (a config's ``method_settings``, or a
    saved config dict, which holds the sections beside its fields)."""
    front_end = front_end_of(architecture)
    if front_end is None:  # the protocol's networks: the method is not needed (nor installed)
        return protocol_network(architecture, num_classes, dropout=dropout)
    parsed = parse_method(method)
    settings = next((sections.get(hooks.section) for _, hooks in parsed.hooks()
                     if hooks.front_end is not None and hooks.section is not None), None)
    return _front_end_network(front_end, architecture, num_classes, parsed.front_end, settings, image_size)


def _front_end_network(front_end: FrontEnd, architecture: str, num_classes: int, component: str | None,
                       settings: dict[str, Any] | None, image_size: int | None) -> nn.Module:
    """The network ``architecture`` of ``front_end``, built by its component."""
    model: nn.Module = load_reference(front_end.build)(front_end.width_of(architecture), num_classes, component,
                                                       settings, image_size)
    return model


def classification_head(model: nn.Module) -> nn.Module:
    """The module that ends in the final layer ``fc``: the network itself, or the ``top`` model of a network with
    a front end (which keeps its head there)."""
    head = getattr(model, "top", model)
    assert isinstance(head, nn.Module)
    return head


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
