"""Test-set metrics: accuracy, macro accuracy, top-5, per-class accuracy, confusion matrix, ciFAIR subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from chimeramix.data import load_split
from chimeramix.evaluation import TOP5_MIN_CLASSES, classification_metrics, evaluate, predict

pytestmark = pytest.mark.usefixtures("one_thread")


def test_metrics_of_known_predictions() -> None:
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    predicted = torch.tensor([0, 0, 1, 1, 0, 2])
    outputs = nn.functional.one_hot(predicted, 3).float()
    metrics = classification_metrics(outputs, labels, 3)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class_accuracy"] == pytest.approx([2 / 3, 1.0, 0.5])
    assert metrics["macro_accuracy"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert "top5_accuracy" not in metrics


def test_top5_for_many_classes() -> None:
    classes = TOP5_MIN_CLASSES
    outputs = torch.arange(classes, dtype=torch.float32).expand(4, classes)  # ranking: last class first
    labels = torch.tensor([classes - 1, classes - 5, classes - 6, 0])
    metrics = classification_metrics(outputs, labels, classes)
    assert metrics["top5_accuracy"] == pytest.approx(0.5)
    assert metrics["accuracy"] == pytest.approx(0.25)


class ChannelMeans(nn.Module):
    """Scores for three classes: the channel means of the image (enough to check the plumbing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, c].mean(dim=(1, 2)) for c in range(3)], dim=1)


def test_predict_batches_and_restores_training_mode() -> None:
    model = ChannelMeans().train()
    images = np.random.default_rng(0).integers(0, 256, (7, 4, 4, 3), dtype=np.uint8)
    mean, std = torch.zeros(3), torch.ones(3)
    outputs = predict(model, images, mean=mean, std=std, device=torch.device("cpu"), batch_size=3)
    expected = torch.from_numpy(images).float().div(255).mean(dim=(1, 2))
    assert torch.allclose(outputs, expected) and model.training


def test_evaluate_reports_the_cifair_subset(tiny_data_root: Path) -> None:
    test = load_split("cifar10", "test", tiny_data_root)
    cpu = torch.device("cpu")
    metrics = evaluate(ChannelMeans(), test, mean=torch.zeros(3), std=torch.ones(3), device=cpu)
    assert metrics["num_test_images"] == len(test)
    assert metrics["num_cifair10_kept"] == len(test) - 2  # the fixture flags two duplicates
    assert 0.0 <= metrics["accuracy_cifair10_kept"] <= 1.0
    assert np.sum(metrics["confusion_matrix"]) == len(test)
