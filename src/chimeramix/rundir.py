"""The one module that knows a run folder's file layout.

A run folder holds, in the order they are written::

    config.json             the resolved config, the kind of run and the environment (first)
    segments.npz            Felzenszwalb segments of the split (segmentation masks only)
    checkpoints/            atomic checkpoints (``chimeramix.checkpoint``)
    log.csv                 one row per epoch
    *.png                   pictures (generators: compositions, masks, reconstructions)
    tensorboard/            event files, when asked for
    <module>.safetensors    final weights (generators: generator, discriminator)
    model/                  classifiers: the model bundle (``chimeramix.bundle``): weights.safetensors and
                            model.json (classes, preprocessing, config); exports (model.onnx,
                            model.torchscript.pt) and their README.md
    result.json             config, metrics, versions, wall time (last)

A run is finished iff ``result.json`` exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chimeramix.config import RunConfig, from_dict, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import read_json, write_json

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.json"
RESULT_FILE = "result.json"
LOG_FILE = "log.csv"
CHECKPOINTS = "checkpoints"
SEGMENTS_FILE = "segments.npz"
TENSORBOARD = "tensorboard"
WEIGHTS_SUFFIX = ".safetensors"
MODEL_DIR = "model"
BUNDLE_WEIGHTS = "weights.safetensors"
BUNDLE_MANIFEST = "model.json"
EXPORT_FILES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
"""Export format -> the file name ``chimeramix export`` writes into ``model/``."""


class RunFolder:
    """The paths of one run folder, and its config and result files."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def result_file(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def segments(self) -> Path:
        return self.path / SEGMENTS_FILE

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    def weights(self, module: str) -> Path:
        """Final weights of ``module`` (``generator``, ``discriminator``, ``model``)."""
        return self.path / f"{module}{WEIGHTS_SUFFIX}"

    @property
    def model_dir(self) -> Path:
        """The model bundle of a finished classifier run (``chimeramix.bundle``)."""
        return self.path / MODEL_DIR

    @property
    def bundle_weights(self) -> Path:
        return self.model_dir / BUNDLE_WEIGHTS

    @property
    def bundle_manifest(self) -> Path:
        return self.model_dir / BUNDLE_MANIFEST

    def export_file(self, fmt: str) -> Path:
        """Where ``chimeramix export --format fmt`` writes (``onnx``, ``torchscript``)."""
        return self.model_dir / EXPORT_FILES[fmt]

    def picture(self, name: str) -> Path:
        return self.path / f"{name}.png"

    @property
    def is_finished(self) -> bool:
        return self.result_file.is_file()

    @property
    def kind(self) -> str | None:
        """The kind of run ``config.json`` records (a kind's name: ``classifier``, ``generator``...), or ``None``."""
        try:
            kind = read_json(self.config_file).get("kind")
        except (OSError, ValueError, AttributeError):
            return None
        return str(kind) if kind is not None else None

    def write_config(self, config: Any, device: torch.device) -> None:
        """Write ``config.json``: the resolved run config, its kind and the environment that runs it."""
        from chimeramix.runtime import environment  # imports torch: only runs need it, not the store

        write_json(self.config_file, {"kind": type(config).KIND, "config": to_dict(config),
                                      "environment": environment(device)})

    def read_config(self, cls: type[RunConfig]) -> RunConfig:
        """The config the run saved with :meth:`write_config`, as a ``cls`` instance; a run of another kind
        is an error that says what it is."""
        if not self.config_file.is_file():
            raise ChimeraMixError(f"{self.path} is not a chimeramix run folder (no {CONFIG_FILE}); check the path")
        try:
            stored = read_json(self.config_file)
            values, kind = stored["config"], stored.get("kind")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ChimeraMixError(f"cannot read {self.config_file} ({error}); the file is damaged: rerun the "
                                  "job in a new run folder") from error
        wanted = cls.KIND
        if kind is not None and kind != wanted:
            raise ChimeraMixError(f"{self.path} holds a {kind} run, not a {wanted} run; pass the folder of a "
                                  f"{wanted} run")
        return from_dict(cls, values)

    def read_result(self) -> dict[str, Any]:
        result: dict[str, Any] = read_json(self.result_file)
        return result

    def write_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """Write ``result.json`` (last: it marks the run finished); returns it as a reader sees it."""
        write_json(self.result_file, result)
        return self.read_result()
