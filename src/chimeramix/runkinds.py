"""The kinds of run, declared once: :data:`RUN_KINDS`.

A kind is its config class (whose ``KIND`` is the name ``config.json``, a sweep's jobs and the cost keys
record), how its config is resolved, the function that opens a run of it and the one that says which runs
share a pack (named as ``module:function`` and loaded when a run trains: the trainers import PyTorch), the
part of its cost key that its speed depends on, and its name in messages. Everything that lists the kinds
reads them here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chimeramix.config import ClassifierConfig, GeneratorConfig, GlicoConfig, from_dict, protocol_for
from chimeramix.methods.registry import load_reference, parse_method
from chimeramix.resolution import generator_config_for, resolve_classifier, resolve_generator, resolve_glico


def _generator_cost(generator: GeneratorConfig) -> str:
    return f"{generator.working_size}px-{generator.base_channels}ch-b{generator.batch_size}"


def _glico_cost(glico: GlicoConfig) -> str:
    return f"{protocol_for(glico.data).image_size}px-b{glico.batch_size}"


def _classifier_cost(classifier: ClassifierConfig) -> str:
    """The architecture, the variant (a ChimeraMix method's generator, or what a component's step costs besides
    the network: its ``cost_variant`` hook) and the image size."""
    method = parse_method(classifier.method)
    variant = "".join(f"/{hooks.cost_variant(classifier)}" for _, hooks in method.hooks() if hooks.cost_variant)
    if method.first_run == "generator":
        generator = resolve_generator(generator_config_for(classifier))
        variant = f"/compose-{generator.working_size}px-{generator.base_channels}ch"
    return f"{classifier.architecture}{variant}/{protocol_for(classifier.data).image_size}px"


@dataclass(frozen=True)
class RunKind:
    """One kind of run."""

    config: type[Any]
    """Its config class; ``config.KIND`` is the kind's name."""
    resolve: Callable[[Any], Any]
    """Fills the config's unset fields (:mod:`chimeramix.resolution`)."""
    opener: str
    """``module:function`` that opens a run: ``(config, run_dir, *, resume)`` -> a
    :class:`~chimeramix.train.run.TrainingRun`, or the stored result of a finished run."""
    packer: str
    """``module:function``: a config's values that the runs of one pack share."""
    cost_part: Callable[[Any], str]
    """What the speed of a run with this resolved config depends on (the middle of its cost key)."""
    plural: str
    """The kind's runs in messages (``classifiers``)."""

    @property
    def name(self) -> str:
        return str(self.config.KIND)

    def open(self, config: Any, run_dir: Any, *, resume: bool) -> Any:
        """Open a run of this kind (see :attr:`opener`)."""
        return load_reference(self.opener)(config, run_dir, resume=resume)

    def pack_key(self, config: Any) -> dict[str, Any]:
        """The values of ``config`` that the runs of one pack share."""
        key: dict[str, Any] = load_reference(self.packer)(config)
        return key

    def cost_key(self, config: dict[str, Any], precision: str) -> str:
        """``<kind>/<what its speed depends on>/<precision>`` of a config dict."""
        return f"{self.name}/{self.cost_part(self.resolve(from_dict(self.config, config)))}/{precision}"


RUN_KINDS: dict[str, RunKind] = {kind.name: kind for kind in (
    RunKind(GeneratorConfig, resolve_generator, "chimeramix.methods.chimeramix.trainer:open_generator_run",
            "chimeramix.methods.chimeramix.trainer:pack_key", _generator_cost, "generators"),
    RunKind(GlicoConfig, resolve_glico, "chimeramix.methods.glico.trainer:open_glico_run",
            "chimeramix.methods.glico.trainer:pack_key", _glico_cost, "GLICO stage-1 runs"),
    RunKind(ClassifierConfig, resolve_classifier, "chimeramix.train.classifier:open_classifier_run",
            "chimeramix.train.classifier:pack_key", _classifier_cost, "classifiers"),
)}
"""The kinds of run, by name, in the order a sweep trains them (first runs before the classifiers)."""


def run_kind(name: str) -> RunKind:
    """The kind of that name; an unknown one is a ``KeyError`` naming the known ones."""
    if name not in RUN_KINDS:
        raise KeyError(f"unknown kind of run {name!r}; the kinds are {', '.join(RUN_KINDS)}")
    return RUN_KINDS[name]


def kind_of(config: Any) -> RunKind:
    """The kind of a run config."""
    for kind in RUN_KINDS.values():
        if isinstance(config, kind.config):
            return kind
    raise TypeError(f"no kind of run has the config {type(config).__name__}")
