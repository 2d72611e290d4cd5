"""The kinds of run, declared once: :func:`run_kinds`.

A kind (:class:`~chimeramix.components.hooks.RunKind`) is its config class (whose ``KIND`` is the name
``config.json``, a sweep's jobs and the cost keys record), how its config is resolved, the function that opens a
run of it and the one that says which runs share a pack (named as ``module:function`` and loaded when a run
trains: the trainers import PyTorch), the part of its cost key that its speed depends on, its run folders'
variant, its name in messages and its overhead. The core declares the classifier; a method component declares the
kind of the run it needs first when that is its own (its hooks' ``run_kind``: ChimeraMix's generator, say).
Everything that lists the kinds reads them here.
"""

from __future__ import annotations

import os
from typing import Any

from chimeramix.components.hooks import Composing, RunKind
from chimeramix.components.registry import declared_run_kinds, parse_method
from chimeramix.config import ClassifierConfig, protocol_for
from chimeramix.errors import ChimeraMixError
from chimeramix.resolution import resolve_classifier
from chimeramix.rundir import RunFolder


def _classifier_cost(classifier: ClassifierConfig) -> str:
    """The architecture, the variant (what a component's step costs besides the network: its ``cost_variant``
    hook, e.g. the compositions of a frozen generator) and the image size."""
    method = parse_method(classifier.method)
    variant = "".join(f"/{hooks.cost_variant(classifier)}" for _, hooks in method.hooks() if hooks.cost_variant)
    return f"{classifier.architecture}{variant}/{protocol_for(classifier.data).image_size}px"


CLASSIFIER = RunKind(ClassifierConfig, resolve_classifier, "chimeramix.classifier.trainer:open_classifier_run",
                     "chimeramix.classifier.trainer:pack_key", _classifier_cost,
                     lambda classifier: classifier.method, "classifiers", {"cpu": 30.0, "cuda": 15.0})
"""The core's kind. Overheads: start-up (imports), data loading, the final evaluation on the test set (about
20 s for a WRN-16-2 on 10,000 CIFAR images on 2 CPU cores), pictures and checkpoints."""


def run_kinds() -> dict[str, RunKind]:
    """The kinds of run, by name, in the order a sweep trains them (first runs before the classifiers)."""
    return {**declared_run_kinds(), CLASSIFIER.name: CLASSIFIER}


def run_kind(name: str) -> RunKind:
    """The kind of that name; an unknown one is a ``KeyError`` naming the known ones."""
    kinds = run_kinds()
    if name not in kinds:
        raise KeyError(f"unknown kind of run {name!r}; the kinds are {', '.join(kinds)}")
    return kinds[name]


def kind_of(config: Any) -> RunKind:
    """The kind of a run config."""
    for kind in run_kinds().values():
        if isinstance(config, kind.config):
            return kind
    raise TypeError(f"no kind of run has the config {type(config).__name__}")


def composing_kinds() -> dict[str, tuple[str, Composing]]:
    """The kinds whose finished runs compose images (generating first runs), by their value of ``generator train
    --kind``: the kind's name and its :class:`~chimeramix.components.hooks.Composing`."""
    return {kind.composing.option or name: (name, kind.composing) for name, kind in declared_run_kinds().items()
            if kind.composing is not None}


def composing_kind(run_dir: str | os.PathLike[str]) -> RunKind:
    """The kind of the generating run in ``run_dir`` (one whose finished model composes images: ChimeraMix's
    generator, say); any other folder is a one-line error that says what it holds and what to pass."""
    folder = RunFolder(run_dir)
    options = ", ".join(f"--kind {option}" for option in composing_kinds())
    if not folder.config_file.is_file():
        raise ChimeraMixError(f"{folder.path} is not a chimeramix run folder (no {folder.config_file.name}); pass "
                              f"the folder of a `chimeramix generator train` run ({options})")
    kind = declared_run_kinds().get(folder.kind or "")
    if kind is None or kind.composing is None:
        raise ChimeraMixError(f"{folder.path} holds a {folder.kind} run, not a generator run; pass the folder of a "
                              f"`chimeramix generator train` run ({options})")
    return kind
