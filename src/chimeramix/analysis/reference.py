"""Features of a dataset's full training set: the reference of FID and KID and the coloured dots of the MDE
embedding. They are computed once per dataset and feature extractor and cached.

The cache file's name and stored key hold the extractor's identity (a hash of its weights file and its
preprocessing, :attr:`FeatureExtractor.key`) and a hash of the training images, so other weights, another
resize rule or other data never reuse features; a damaged or foreign cache file is recomputed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from chimeramix.analysis.features import FeatureExtractor
from chimeramix.data.datasets import load_split, user_cache_dir
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write


@dataclass
class Reference:
    """The features of every training image of ``dataset`` (rows in the official order)."""

    dataset: str
    features: torch.Tensor
    labels: np.ndarray
    classes: tuple[str, ...]
    cache: Path


def default_cache_folder() -> Path:
    """``<user cache>/chimeramix/analysis``."""
    return user_cache_dir() / "chimeramix" / "analysis"


def reference_features(dataset: str, extractor: FeatureExtractor, *, data_root: str | None = None,
                       folder_image_size: int | None = None, cache_folder: Path | None = None,
                       batch_size: int = 100) -> Reference:
    """The extractor's features of the full training set of ``dataset``, from the cache or computed (and cached)."""
    train = load_split(dataset, "train", data_root, folder_image_size=folder_image_size or 32)
    if train.orig_index is not None:
        raise ChimeraMixError(f"the {dataset} data in {data_root or 'the data root'} is a data pack holding only "
                              "some training images; the reference needs the full training set: pass the full "
                              "data with --data-root")
    key = cache_key(extractor, train.images)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", dataset).strip("-")
    path = (cache_folder or default_cache_folder()) / f"{slug}-{extractor.kind}-{key[:16]}.npz"
    features = _cached(path, key)
    if features is None:
        features = extractor(train.images, batch_size).numpy()
        atomic_write(path, lambda handle: np.savez(handle, features=features, key=np.array(key)))
    return Reference(dataset, torch.from_numpy(features), train.labels, train.classes, path)


def cache_key(extractor: FeatureExtractor, images: np.ndarray) -> str:
    """Hash of the extractor's identity and of the images."""
    digest = hashlib.sha256(extractor.key.encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


def _cached(path: Path, key: str) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            if str(cached["key"]) == key:
                return np.asarray(cached["features"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        pass  # damaged or foreign: recompute
    return None

