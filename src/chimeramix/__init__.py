"""chimeramix: image classification on small datasets with ChimeraMix and the paper's baselines.

The public Python API (everything else, ``chimeramix.train.*`` and the other modules, is internal and may
change between versions)::

    from chimeramix import ClassifierConfig, DataConfig, apply_preset, run_experiment

    data = DataConfig("cifar10", k=10, seed=0)
    config = apply_preset(ClassifierConfig(data=data, method="chimeramix-grid"), "quick")
    result = run_experiment(config, "runs")           # its generator, then the classifier
    print(result["metrics"]["accuracy"], result["run_dir"])

    config, _ = plan_experiment(ClassifierConfig(data=data, method="chimeramix-grid"), 20, "runs")  # a CPU's budget
    result = run_experiment(config, "runs")           # the plan: within 20 minutes on this machine

- configs: :class:`DataConfig`, :class:`MaskConfig`, :class:`GeneratorConfig`, :class:`ClassifierConfig`,
  :func:`apply_preset` (``paper`` / ``quick``); a config's ``recipe`` is ``paper`` or ``released``;
- training: :func:`train_generator`, :func:`train_classifier`, :func:`run_experiment`, :func:`plan_experiment` (a
  time budget: the plan of ``--budget``), and :func:`train_pack` for several runs of one kind as one training pack;
- using results: :func:`load_classifier` (a finished classifier run as a model: ``.predict(images)`` gives
  labels and probabilities), :func:`load_generator` (the frozen generator of a finished run),
  :func:`parse_method`.

The names are imported when first used, so that ``import chimeramix`` (and the command line's ``--help``) does
not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chimeramix.version import __version__

PUBLIC: dict[str, str] = {
    "DataConfig": "chimeramix.config",
    "MaskConfig": "chimeramix.config",
    "GeneratorConfig": "chimeramix.methods.chimeramix.settings",
    "ClassifierConfig": "chimeramix.config",
    "apply_preset": "chimeramix.resolution",
    "parse_method": "chimeramix.components.registry",
    "train_generator": "chimeramix.methods.chimeramix.trainer",
    "train_classifier": "chimeramix.classifier.trainer",
    "train_pack": "chimeramix.train.trainers",
    "run_experiment": "chimeramix.experiments.pipeline",
    "plan_experiment": "chimeramix.experiments.pipeline",
    "load_generator": "chimeramix.methods.chimeramix.frozen_generator",
    "load_classifier": "chimeramix.predictor",
}
"""Public name -> the module that defines it."""

__all__ = [
    "ClassifierConfig",
    "DataConfig",
    "GeneratorConfig",
    "MaskConfig",
    "__version__",
    "apply_preset",
    "load_classifier",
    "load_generator",
    "parse_method",
    "plan_experiment",
    "run_experiment",
    "train_classifier",
    "train_generator",
    "train_pack",
]

if TYPE_CHECKING:
    from chimeramix.classifier.trainer import train_classifier
    from chimeramix.components.registry import parse_method
    from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
    from chimeramix.experiments.pipeline import plan_experiment, run_experiment
    from chimeramix.methods.chimeramix.frozen_generator import load_generator
    from chimeramix.methods.chimeramix.settings import GeneratorConfig
    from chimeramix.methods.chimeramix.trainer import train_generator
    from chimeramix.predictor import load_classifier
    from chimeramix.resolution import apply_preset
    from chimeramix.train.trainers import train_pack


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'chimeramix' has no attribute {name!r}")
