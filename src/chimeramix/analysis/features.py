"""Feature extractors of the analysis: image sets -> feature vectors, with an identity for caches and a label
for every output.

- ``inception``: the TF FID Inception from a file the user supplies (:mod:`chimeramix.analysis.inception`),
  after clean-fid's resize to 299 x 299: the features of the paper's FID (Fig. 4) and MDE (Fig. 5).
- ``classifier``: the penultimate features (after global pooling, before the last linear layer) of a
  classifier that chimeramix trained, at the dataset's image size with its training normalisation: an offline
  stand-in, **not** Inception features; its numbers are not comparable with the paper's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from chimeramix.analysis.inception import FEATURES, clean_resize, load_inception, normalise
from chimeramix.errors import ChimeraMixError
from chimeramix.evaluation import predict
from chimeramix.models.classifiers import classification_head
from chimeramix.protocol import train_set

INCEPTION_RESIZE = "clean-fid: PIL bicubic per float channel to 299 x 299, clipped to [0, 255]; (x - 128) / 128"


@dataclass(frozen=True)
class FeatureExtractor:
    """``extractor(images)``: uint8 N x H x W x 3 images -> float32 N x ``dim`` features on the CPU."""

    kind: str
    """``inception`` or ``classifier``."""
    label: str
    """What the features are, for tables, plots and JSON."""
    key: str
    """Hash of the weights and the preprocessing: features of two extractors with one key are the same."""
    dim: int
    dataset: str | None
    """The dataset a ``classifier`` extractor was trained on (its features mean nothing elsewhere)."""
    batch: Callable[[np.ndarray], torch.Tensor]

    def __call__(self, images: np.ndarray, batch_size: int = 100) -> torch.Tensor:
        parts = [self.batch(images[start : start + batch_size]) for start in range(0, len(images), batch_size)]
        return torch.cat(parts) if parts else torch.zeros(0, self.dim)

    def check_dataset(self, dataset: str, what: str) -> None:
        """A classifier's features describe only images of its own training set (``what``: a run of ``dataset``)."""
        if self.dataset is not None and train_set(self.dataset) != train_set(dataset):
            raise ChimeraMixError(f"the feature classifier was trained on {self.dataset}, but {what} is a {dataset} "
                                  f"run; pass --features of a {dataset} classifier, or --inception")

    def describe(self) -> dict[str, str | int | None]:
        """The JSON entry of outputs made with these features."""
        return {"kind": self.kind, "label": self.label, "key": self.key, "dim": self.dim, "dataset": self.dataset}


def inception_extractor(path: str | os.PathLike[str], device: torch.device) -> FeatureExtractor:
    """The TF FID Inception of ``path`` (a state dict or TorchScript file) on ``device``, clean-fid resize."""
    network = load_inception(path).to(device)

    @torch.inference_mode()
    def batch(images: np.ndarray) -> torch.Tensor:
        return network(normalise(clean_resize(images)).to(device)).float().cpu()

    key = _hash(_file_digest(Path(path)), INCEPTION_RESIZE)
    return FeatureExtractor("inception", f"TF-Inception pool3 ({Path(path).name}, clean-fid resize)", key,
                            FEATURES, None, batch)


def classifier_extractor(run_dir: str | os.PathLike[str], device: torch.device) -> FeatureExtractor:
    """The penultimate features of the finished classifier run ``run_dir`` on ``device``."""
    from chimeramix.train.frozen_classifier import load_classifier

    frozen = load_classifier(run_dir, device)
    head = classification_head(frozen.model)
    final = head.fc
    assert isinstance(final, nn.Linear)
    head.fc = nn.Identity()  # the network now ends in its pooled features (a front end's: its top model's)

    def batch(images: np.ndarray) -> torch.Tensor:
        return predict(frozen.model, images, mean=frozen.mean, std=frozen.std, device=device)

    config = frozen.config
    preprocessing = {"architecture": config.architecture, "mean": frozen.mean.tolist(), "std": frozen.std.tolist()}
    key = _hash(_file_digest(frozen.weights), json.dumps(preprocessing, sort_keys=True))
    label = (f"penultimate features of classifier {Path(run_dir).name} ({config.architecture}, {config.method}, "
             f"{config.data.dataset} k = {config.data.k}); NOT Inception: not comparable with the paper's FID")
    return FeatureExtractor("classifier", label, key, int(final.in_features), config.data.dataset, batch)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
