"""The training subset of a run (the k x C images of one split), held on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from chimeramix.config import DataConfig
from chimeramix.data.datasets import load_data_split
from chimeramix.data.splits import split


@dataclass
class TrainingSet:
    """The k x C training images of one split, on the training device."""

    images: torch.Tensor
    """uint8 N x 3 x H x W."""
    labels: torch.Tensor
    pixels: np.ndarray
    """The same images as uint8 N x H x W x 3 (for segmentation)."""
    num_classes: int


def load_training_set(data: DataConfig, device: torch.device) -> TrainingSet:
    """The split's training images and labels on ``device`` (and its pixels in host memory)."""
    train = load_data_split(data, "train")
    chosen = split(train, data.k, data.seed)
    pixels = train.take(chosen.indices)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous().to(device)
    labels = torch.from_numpy(chosen.labels(train.labels)).to(device)
    return TrainingSet(images, labels, pixels, train.num_classes)
