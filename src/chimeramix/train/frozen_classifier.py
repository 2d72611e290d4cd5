"""A finished classifier run, loaded for use: its network with the final weights (the last epoch's checkpoint)
and the input normalisation it was trained with (the analysis takes its penultimate features)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from chimeramix.checkpoint import latest_checkpoint, load_weights
from chimeramix.config import ClassifierConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.models.classifiers import network_of
from chimeramix.rundir import RunFolder


@dataclass
class FrozenClassifier:
    """A trained classifier in eval mode, with what it needs to read images."""

    model: nn.Module
    config: ClassifierConfig
    mean: torch.Tensor
    std: torch.Tensor
    weights: Path
    """The weights file it was loaded from."""


def load_classifier(run_dir: str | os.PathLike[str], device: torch.device) -> FrozenClassifier:
    """The classifier of a finished run folder on ``device`` (a run of another kind, or an unfinished one, is a
    clear error)."""
    folder = RunFolder(run_dir)
    config = folder.read_config(ClassifierConfig)
    checkpoint = latest_checkpoint(folder.path) if folder.is_finished else None
    weights = checkpoint / "model.safetensors" if checkpoint is not None else None
    if weights is None or not weights.is_file():
        raise ChimeraMixError(f"{run_dir} holds no finished classifier (result.json and its last checkpoint's "
                              "model.safetensors); finish it with `chimeramix classifier train ... --resume`")
    normalization = folder.read_result().get("normalization", {})
    model = network_of(str(config.architecture), config.method, config.method_settings, _num_classes(weights),
                       dropout=config.dropout)
    load_weights(model, weights)
    mean = torch.tensor(normalization.get("mean", (0.5, 0.5, 0.5)))
    std = torch.tensor(normalization.get("std", (0.5, 0.5, 0.5)))
    return FrozenClassifier(model.to(device).eval(), config, mean, std, weights)


def _num_classes(weights: Path) -> int:
    """The number of outputs of the final layer ``fc`` (WideResNet and ResNet-50 both name it so; a network with
    a front end has it in its top model, ``top.fc``)."""
    try:
        with safe_open(str(weights), "pt") as tensors:
            names = set(tensors.keys())
            name = "fc.weight" if "fc.weight" in names else "top.fc.weight"
            return int(tensors.get_slice(name).get_shape()[0])
    except Exception as error:  # safetensors raises several types for damaged files
        raise ChimeraMixError(f"cannot read {weights} ({type(error).__name__}); the file is damaged: rerun the "
                              "classifier") from None
