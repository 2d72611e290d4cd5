"""Classifying new images with a finished classifier run: :func:`load_classifier` and :class:`Classifier`.

::

    from chimeramix import load_classifier

    classifier = load_classifier("runs/classifier-folder-photos-3fa2c1-k24-seed0-baseline-quick")
    predictions = classifier.predict(["cat.jpg", "dog.png"], tta="flip")
    print(predictions.labels, predictions.probabilities)     # class names; N x C probabilities

Images are paths, Pillow images or uint8 H x W x 3 arrays of any size and mode; each is prepared as the
run's training images were (``chimeramix.data.decode``: RGB, shorter side resized, centre crop), then
normalised with the run's statistics. ``tta="flip"`` averages the probabilities of each image and its
horizontal mirror. Batches run on the GPU when one is present.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from chimeramix.bundle import open_bundle
from chimeramix.data.decode import IMAGE_EXTENSIONS, decode_or_reason, fit_image
from chimeramix.errors import ChimeraMixError
from chimeramix.image_ops import normalize
from chimeramix.runtime import select_device

ImageInput = str | os.PathLike[str] | Image.Image | np.ndarray
TTA = Literal["flip"] | None
BATCH_SIZE = 64


class ProbabilityModel(nn.Module):
    """A classifier with its normalisation in front and a softmax behind: float32 RGB in [0, 1],
    N x 3 x S x S -> N x C class probabilities (what ``predict`` and the exported files compute)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(normalize(pixels, self.mean, self.std)), dim=1)


@dataclass(frozen=True)
class Predictions:
    """The predictions for N images: ``probabilities`` (N x C, rows sum to 1) over ``classes``."""

    classes: tuple[str, ...]
    probabilities: np.ndarray

    @property
    def indices(self) -> np.ndarray:
        """The predicted label of each image."""
        return self.probabilities.argmax(axis=1)

    @property
    def labels(self) -> list[str]:
        """The predicted class name of each image."""
        return [self.classes[i] for i in self.indices]

    def top(self, row: int, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable classes of image ``row`` with their probabilities, best first."""
        order = np.argsort(-self.probabilities[row], kind="stable")[:k]
        return [(self.classes[i], float(self.probabilities[row, i])) for i in order]


class Classifier:
    """A trained classifier with its preprocessing (see the module docstring)."""

    def __init__(self, manifest: dict[str, Any], model: nn.Module, device: torch.device) -> None:
        self.manifest = manifest
        preprocessing = manifest["preprocessing"]
        self.classes: tuple[str, ...] = tuple(manifest["classes"])
        self.image_size = int(preprocessing["image_size"])
        self.device = device
        self.module = ProbabilityModel(model, preprocessing["mean"], preprocessing["std"]).to(device).eval()

    def prepare(self, image: ImageInput) -> np.ndarray:
        """One image as the model's uint8 S x S x 3 input (files are decoded; a bad file is an error)."""
        if isinstance(image, np.ndarray):
            if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3, 4)):
                return fit_image(Image.fromarray(np.ascontiguousarray(image.squeeze())), self.image_size)
            raise ChimeraMixError(f"an image array must be H x W or H x W x 1/3/4, got shape {image.shape}")
        if isinstance(image, Image.Image):
            return fit_image(image, self.image_size)
        decoded = decode_or_reason(Path(image), self.image_size)
        if isinstance(decoded, str):
            raise ChimeraMixError(f"cannot read {image} as an image ({decoded}); pass an image file")
        return decoded

    def predict(self, images: Sequence[ImageInput] | np.ndarray, *, tta: TTA = None,
                batch_size: int = BATCH_SIZE) -> Predictions:
        """Probabilities of every image (a sequence of images, or a uint8 N x H x W x 3 array)."""
        pixels = np.stack([self.prepare(image) for image in images]) if len(images) else np.zeros(
            (0, self.image_size, self.image_size, 3), dtype=np.uint8)
        return self.predict_pixels(pixels, tta=tta, batch_size=batch_size)

    @torch.inference_mode()
    def predict_pixels(self, pixels: np.ndarray, *, tta: TTA = None, batch_size: int = BATCH_SIZE) -> Predictions:
        """Probabilities of prepared uint8 N x S x S x 3 images, in batches of ``batch_size``."""
        if tta not in (None, "flip"):
            raise ChimeraMixError(f"unknown test-time augmentation {tta!r}; use 'flip' or none")
        outputs = []
        for start in range(0, len(pixels), batch_size):
            batch = torch.from_numpy(pixels[start : start + batch_size]).to(self.device)
            inputs = batch.permute(0, 3, 1, 2).float().div(255)
            probabilities = self.module(inputs)
            if tta == "flip":
                probabilities = (probabilities + self.module(inputs.flip(-1))) / 2
            outputs.append(probabilities.float().cpu())
        joined = torch.cat(outputs) if outputs else torch.zeros(0, len(self.classes))
        return Predictions(self.classes, joined.numpy())


def load_classifier(run: str | os.PathLike[str], device: str | torch.device = "auto",
                    data_folder: str | os.PathLike[str] | None = None) -> Classifier:
    """The classifier of a finished classifier run folder (or of its ``model/`` bundle folder) on ``device``
    (``auto``: a GPU when one is present); ``data_folder``: where the run's image folder is now, if it moved (only
    a run finished before model bundles existed reads it)."""
    manifest, model = open_bundle(run, data_folder)
    return Classifier(manifest, model, device if isinstance(device, torch.device) else select_device(device))


def image_files(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``inputs``: a file as given, a folder as every file under it (sorted, nested folders
    included, hidden entries left out); a path that does not exist as given. Reading them tells which are
    images (:func:`read_files`)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(path for path in item.rglob("*") if path.is_file()
                            and not any(part.startswith(".") for part in path.relative_to(item).parts))
        else:
            files.append(item)
    return files


def read_files(classifier: Classifier, files: Sequence[Path]) -> tuple[np.ndarray, dict[Path, str]]:
    """The prepared pixels of the files that can be read, and why each other file cannot, by path (a file of a
    type the folder loader does not read, by its extension, counts as unreadable)."""
    pixels, errors = [], {}
    for path in files:
        decoded: np.ndarray | str = f"not an image type the loader reads ({path.suffix or 'no extension'})"
        if path.suffix.lower() in IMAGE_EXTENSIONS or not path.exists():
            decoded = decode_or_reason(path, classifier.image_size)
        if isinstance(decoded, str):
            errors[path] = decoded
        else:
            pixels.append(decoded)
    empty = np.zeros((0, classifier.image_size, classifier.image_size, 3), dtype=np.uint8)
    return (np.stack(pixels) if pixels else empty), errors
