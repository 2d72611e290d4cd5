"""The kinds of run, declared once: :func:`run_kinds`.

A kind (:class:`~chimeramix.components.hooks.RunKind`) is its config class (whose ``KIND`` is the name
``config.json``, a sweep's jobs and the cost keys record), how its config is resolved, the function that opens a
run of it and the one that says which runs share a pack (named as ``module:function`` and loaded when a run
trains: the trainers import PyTorch), the part of its cost key that its speed depends on, its run folders'
variant, its name in messages and its overhead. The core declares the classifier and ChimeraMix's generator; a
method component declares the kind of the run it needs first when that is its own (its hooks' ``run_kind``).
Everything that lists the kinds reads them here.
"""

from __future__ import annotations

from typing import Any

from chimeramix.components.hooks import RunKind
from chimeramix.components.registry import declared_run_kinds, parse_method
from chimeramix.config import ClassifierConfig, GeneratorConfig, protocol_for
from chimeramix.resolution import generator_config_for, resolve_classifier, resolve_generator


def _generator_cost(generator: GeneratorConfig) -> str:
    return f"{generator.working_size}px-{generator.base_channels}ch-b{generator.batch_size}"


def _classifier_cost(classifier: ClassifierConfig) -> str:
    """The architecture, the variant (a ChimeraMix method's generator, or what a component's step costs besides
    the network: its ``cost_variant`` hook) and the image size."""
    method = parse_method(classifier.method)
    variant = "".join(f"/{hooks.cost_variant(classifier)}" for _, hooks in method.hooks() if hooks.cost_variant)
    if method.first_run == "generator":
        generator = resolve_generator(generator_config_for(classifier))
        variant = f"/compose-{generator.working_size}px-{generator.base_channels}ch"
    return f"{classifier.architecture}{variant}/{protocol_for(classifier.data).image_size}px"


GENERATOR = RunKind(GeneratorConfig, resolve_generator, "chimeramix.methods.chimeramix.trainer:open_generator_run",
                    "chimeramix.methods.chimeramix.trainer:pack_key", _generator_cost,
                    lambda generator: generator.masks.label, "generators", {"cpu": 10.0, "cuda": 15.0})
CLASSIFIER = RunKind(ClassifierConfig, resolve_classifier, "chimeramix.classifier.trainer:open_classifier_run",
                     "chimeramix.classifier.trainer:pack_key", _classifier_cost,
                     lambda classifier: classifier.method, "classifiers", {"cpu": 30.0, "cuda": 15.0})
"""The core's kinds. Overheads: start-up (imports), data loading, the final evaluation on the test set (about
20 s for a WRN-16-2 on 10,000 CIFAR images on 2 CPU cores), pictures and checkpoints."""


def run_kinds() -> dict[str, RunKind]:
    """The kinds of run, by name, in the order a sweep trains them (first runs before the classifiers)."""
    return {kind.name: kind for kind in (GENERATOR, *declared_run_kinds().values(), CLASSIFIER)}


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
