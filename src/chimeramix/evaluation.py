"""Test-set metrics of a classifier: accuracy, macro accuracy, top-5, per-class accuracy, confusion matrix.

The protocol evaluates once, after the last epoch, on the full test set; no epoch is ever chosen on it.
For ``cifar10`` the accuracy on the test images that ciFAIR-10 keeps (those without near-duplicates in the
train set, :func:`chimeramix.data.cifair_duplicate_mask`) is reported as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from chimeramix.data import ImageSet, cifair_duplicate_mask
from chimeramix.image_ops import normalize
from chimeramix.runtime import autocast
from chimeramix.uncertainty import accuracy_interval

EVAL_BATCH_SIZE = 500
TOP5_MIN_CLASSES = 20
"""Top-5 accuracy is reported for datasets with at least this many classes (ciFAIR-100)."""


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: np.ndarray,
    *,
    mean: torch.Tensor,
    std: torch.Tensor,
    device: torch.device,
    batch_size: int = EVAL_BATCH_SIZE,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Outputs (N x C, float32, CPU) of ``model`` in eval mode for uint8 N x H x W x 3 images.

    The model's training mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    mean, std = mean.to(device), std.to(device)
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start : start + batch_size]).to(device).permute(0, 3, 1, 2)
        inputs = normalize(batch.float().div(255), mean, std)
        with autocast(device.type, autocast_dtype):
            outputs.append(model(inputs).float().cpu())
    model.train(was_training)
    return torch.cat(outputs)


def classification_metrics(outputs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, Any]:
    """Metrics of outputs (N x C scores) against labels (N), as JSON-ready numbers and lists: a class without
    test images has no per-class accuracy (``None``) and the macro accuracy averages the others;
    ``accuracy_interval`` is the 95 % Wilson interval of the accuracy on N images.

    >>> scores = torch.tensor([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    >>> m = classification_metrics(scores, torch.tensor([0, 1, 1, 1]), num_classes=3)
    >>> m["accuracy"], m["macro_accuracy"], m["per_class_accuracy"], m["confusion_matrix"]
    (0.75, 0.8333333333333333, [1.0, 0.6666666666666666, None], [[1, 0, 0], [1, 2, 0], [0, 0, 0]])
    """
    labels = labels.long()
    predictions = outputs.argmax(dim=1)
    confusion = torch.bincount(labels * num_classes + predictions, minlength=num_classes**2)
    confusion = confusion.view(num_classes, num_classes)  # rows: true class, columns: predicted class
    support = confusion.sum(dim=1)
    per_class = confusion.diagonal().double() / support.clamp_min(1)
    accuracy = float((predictions == labels).double().mean())
    metrics: dict[str, Any] = {
        "accuracy": accuracy,
        "accuracy_interval": list(accuracy_interval(accuracy, len(labels))),
        "macro_accuracy": float(per_class[support > 0].mean()),
        "per_class_accuracy": [value if count else None for value, count in zip(per_class.tolist(), support.tolist())],
        "confusion_matrix": confusion.tolist(),
        "num_test_images": len(labels),
    }
    if num_classes >= TOP5_MIN_CLASSES:
        top5 = outputs.topk(5, dim=1).indices
        metrics["top5_accuracy"] = float((top5 == labels[:, None]).any(dim=1).double().mean())
    return metrics


def evaluate(
    model: nn.Module,
    test: ImageSet,
    *,
    mean: torch.Tensor,
    std: torch.Tensor,
    device: torch.device,
    batch_size: int = EVAL_BATCH_SIZE,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on the whole test split; for ``cifar10`` also ``accuracy_cifair10_kept``, the
    accuracy on the test images ciFAIR-10 keeps."""
    outputs = predict(model, test.images, mean=mean, std=std, device=device, batch_size=batch_size,
                      autocast_dtype=autocast_dtype)
    labels = torch.from_numpy(test.labels)
    metrics = classification_metrics(outputs, labels, test.num_classes)
    duplicates = cifair_duplicate_mask(test) if test.name == "cifar10" else None
    if duplicates is not None:
        kept = torch.from_numpy(~duplicates)
        metrics["accuracy_cifair10_kept"] = float((outputs[kept].argmax(1) == labels[kept]).double().mean())
        metrics["num_cifair10_kept"] = int(kept.sum())
    return metrics
