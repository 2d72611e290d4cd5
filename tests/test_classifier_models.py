"""Classifier architectures: WideResNet shapes and size, the registry, the folder choice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.models.classifiers import build_classifier, count_parameters
from chimeramix.models.wide_resnet import WideResNet
from chimeramix.protocol import folder_protocol

pytestmark = pytest.mark.usefixtures("one_thread")


def test_wrn_16_8_has_the_known_size_and_dropout() -> None:
    model = build_classifier("wrn-16-8", num_classes=10, dropout=0.3)
    assert isinstance(model, WideResNet)
    assert count_parameters(model) == 10_961_370  # about 11.0 M, as in Zagoruyko & Komodakis
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 6 and all(m.p == 0.3 for m in dropouts)


@pytest.mark.parametrize("size", [8, 32, 40])
def test_wide_resnet_any_input_size(size: int) -> None:
    model = WideResNet(depth=10, width=2, num_classes=7)
    assert model(torch.zeros(3, 3, size, size)).shape == (3, 7)


def test_resnet50_without_pretrained_weights() -> None:
    model = build_classifier("resnet50", num_classes=10)
    assert isinstance(model.fc, nn.Linear) and model.fc.out_features == 10
    assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 10)


@pytest.mark.parametrize("name", ["wrn-15-8", "wrn-16-0", "vgg16"])
def test_unknown_architectures_are_refused(name: str) -> None:
    with pytest.raises(ChimeraMixError, match=r"wrn|WRN"):
        build_classifier(name, num_classes=10)


def test_folder_datasets_choose_by_image_size() -> None:
    assert folder_protocol(32).classifier == "wrn-16-8"
    assert folder_protocol(64).classifier == "wrn-16-8"
    assert folder_protocol(96).classifier == "resnet50"
