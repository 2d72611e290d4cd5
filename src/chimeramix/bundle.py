"""A finished classifier run as a model anyone can apply: the bundle in ``RUN/model/``.

``model/weights.safetensors`` holds the classifier's final weights and ``model/model.json`` everything else
needed to apply them: the architecture, the classes in label order, the preprocessing (image size, the
resize and crop rule, the normalisation), the outputs, and the method and config of the run. A classifier run
writes its bundle when it finishes; a run that finished before bundles existed gets one from its last
checkpoint (the final weights) when it is first loaded, and a bundle whose weights file is damaged is rebuilt
from there too (saying so). The ``model/`` folder alone is enough: it can be copied elsewhere and loaded from
there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from chimeramix.checkpoint import latest_checkpoint, load_weights, save_weights
from chimeramix.config import ClassifierConfig, to_dict
from chimeramix.data.decode import RESIZE_RULE
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import read_json, write_json
from chimeramix.models.classifiers import network_of
from chimeramix.progress import NOTICE
from chimeramix.rundir import BUNDLE_MANIFEST, BUNDLE_WEIGHTS, RunFolder

BUNDLE_FORMAT = 1
"""Version of ``model.json``; bump on incompatible changes."""


def manifest(config: ClassifierConfig, method: str, classes: tuple[str, ...], image_size: int,
             mean: torch.Tensor, std: torch.Tensor) -> dict[str, Any]:
    """What ``model.json`` holds for a classifier of ``config`` (resolved) trained with ``method``."""
    return {
        "format": BUNDLE_FORMAT,
        "architecture": config.architecture,
        "dropout": config.dropout,
        "classes": list(classes),
        "preprocessing": {
            "image_size": image_size,
            "resize": RESIZE_RULE.format(size=image_size),
            "scale": "pixel values / 255: float32 RGB in [0, 1], channels first (N x 3 x S x S)",
            "mean": [float(value) for value in mean],
            "std": [float(value) for value in std],
            "normalization": "(x - mean) / std per RGB channel",
        },
        "outputs": "one logit per class in the order of 'classes' (their softmax: the probabilities)",
        "method": method,
        "dataset": config.data.dataset,
        "config": to_dict(config),
    }


def write_bundle(folder: RunFolder, model: nn.Module, values: dict[str, Any]) -> None:
    """Write the bundle of a classifier run: its weights, then ``model.json``."""
    save_weights(model, folder.bundle_weights)
    write_json(folder.bundle_manifest, values)


def bundle_folder(path: str | os.PathLike[str], data_folder: str | os.PathLike[str] | None = None) -> Path:
    """The bundle folder of a finished classifier run, or ``path`` itself when it is a bundle folder; a path
    that is neither is an error that names the fix (a run of another kind, an unfinished run, ...). A run's
    missing bundle is made, and a damaged weights file rebuilt, from its last checkpoint (``data_folder``: where
    the run's image folder is now, for a bundle made anew; see :func:`chimeramix.data.folder_scan.locate_folder`)."""
    path = Path(path)
    if (path / BUNDLE_MANIFEST).is_file() and not (path / "config.json").is_file():
        return path
    folder = RunFolder(path)
    if not path.is_dir():
        raise ChimeraMixError(f"{path} does not exist; pass the folder of a finished classifier run (e.g. "
                              "runs/classifier-...), or its model/ folder")
    config = folder.read_config(ClassifierConfig)  # a generator run, or no run at all, is refused here
    if not folder.is_finished:
        raise ChimeraMixError(f"{path} is a classifier run that has not finished (no {folder.result_file.name}); "
                              "finish it (rerun the same `chimeramix run`, or `chimeramix classifier train ... "
                              "--resume`), then use it")
    if not folder.bundle_manifest.is_file():
        _bundle_from_checkpoint(folder, config, data_folder)
    else:
        damage = _damage(folder.bundle_weights)
        if damage is not None:
            _rebuild_weights(folder, damage)
    return folder.model_dir


def _final_weights(folder: RunFolder, problem: str) -> Path:
    """The final weights in a finished run's last checkpoint; an error that says ``problem`` without them."""
    checkpoint = latest_checkpoint(folder.path)
    if checkpoint is None or not (checkpoint / "model.safetensors").is_file():
        raise ChimeraMixError(f"{problem}, and the run holds no checkpoint with its final weights to rebuild it "
                              "from; train the run again in a new folder")
    return checkpoint / "model.safetensors"


def _damage(weights: Path) -> str | None:
    """Why a weights file cannot be read (missing, damaged), or ``None`` when it reads."""
    try:
        safetensors.torch.load_file(weights)
    except Exception as error:  # safetensors raises several types for damaged files
        return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return None


def _rebuild_weights(folder: RunFolder, damage: str) -> None:
    """Rewrite a bundle's damaged weights file from the run's last checkpoint (the same final weights)."""
    source = _final_weights(folder, f"{folder.bundle_weights} is damaged ({damage})")
    model = load_model(read_manifest(folder.model_dir), source)
    save_weights(model, folder.bundle_weights)
    NOTICE.info("%s was damaged (%s); rebuilt it from the run's last checkpoint %s", folder.bundle_weights, damage,
                source.parent.name)


def _bundle_from_checkpoint(folder: RunFolder, config: ClassifierConfig,
                            data_folder: str | os.PathLike[str] | None) -> None:
    """The bundle of a run finished before bundles existed: its last checkpoint's weights (those of the last
    epoch), its normalisation, and the class names of its dataset."""
    from chimeramix.data import load_data_split  # reads the test split for its class names
    from chimeramix.data.folder_scan import locate_folder

    source = _final_weights(folder, f"{folder.path} holds no model bundle")
    result = folder.read_result()
    test = load_data_split(locate_folder(config.data, data_folder), "test")
    model = load_model({"architecture": config.architecture, "dropout": config.dropout,
                        "classes": list(test.classes)}, source)
    norm = result["normalization"]
    write_bundle(folder, model, manifest(config, str(result["method"]), test.classes, test.image_size[0],
                                         torch.tensor(norm["mean"]), torch.tensor(norm["std"])))


def read_manifest(bundle: Path) -> dict[str, Any]:
    """``model.json`` of a bundle folder, checked for its format."""
    values: dict[str, Any] = read_json(bundle / BUNDLE_MANIFEST)
    if values.get("format") != BUNDLE_FORMAT:
        raise ChimeraMixError(f"{bundle / BUNDLE_MANIFEST} has format {values.get('format')!r}, not {BUNDLE_FORMAT}; "
                              "use the chimeramix version that wrote it")
    return values


def load_model(values: dict[str, Any], weights: Path) -> nn.Module:
    """The classifier a manifest describes, with the weights of the file ``weights``, in eval mode on the CPU."""
    model = network_of(str(values["architecture"]), str(values.get("method", "baseline")), values.get("config") or {},
                       len(values["classes"]), dropout=float(values["dropout"]))
    load_weights(model, weights)
    return model.eval()


def open_bundle(path: str | os.PathLike[str], data_folder: str | os.PathLike[str] | None = None
                ) -> tuple[dict[str, Any], nn.Module]:
    """The manifest and the model (eval mode, CPU) of a finished classifier run or a bundle folder
    (``data_folder``: :func:`bundle_folder`)."""
    bundle = bundle_folder(path, data_folder)
    values = read_manifest(bundle)
    return values, load_model(values, bundle / BUNDLE_WEIGHTS)
