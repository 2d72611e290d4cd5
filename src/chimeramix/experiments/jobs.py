"""A sweep's jobs: one training run each, with its config, the job it needs first, and its size (optimizer steps
and the mixes of a pool made before training, the units of the cost estimates)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chimeramix.components.registry import parse_method
from chimeramix.config import ClassifierConfig, DataConfig, to_dict
from chimeramix.experiments.costs import cost_key
from chimeramix.protocol import repetition_factor, steps_per_epoch
from chimeramix.resolution import num_classes
from chimeramix.runkinds import kind_of


@dataclass(frozen=True)
class Job:
    """One training run of a sweep; ``config`` is the run's config as a dict (see ``chimeramix.config``)."""

    id: str
    kind: str
    """The kind of run (:func:`chimeramix.runkinds.run_kinds`)."""
    config: dict[str, Any]
    depends_on: str | None = None
    """Id of the job a classifier job needs trained first (a generator, or a teacher's classifier job)."""
    steps: int = 0
    """Optimizer steps of the whole run (the cost estimate's unit)."""
    pool_mixes: int = 0
    """Mixes a method makes for its pool before training (the estimate's other unit)."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "config": self.config, "depends_on": self.depends_on,
                "steps": self.steps, "pool_mixes": self.pool_mixes}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Job:
        return cls(id=values["id"], kind=values["kind"], config=values["config"],
                   depends_on=values.get("depends_on"), steps=int(values.get("steps", 0)),
                   pool_mixes=int(values.get("pool_mixes", 0)))

    @property
    def cost_key(self) -> str:
        """Key of this job's per-step cost (see :func:`chimeramix.experiments.costs.cost_key`)."""
        return cost_key(self.kind, self.config)

    @property
    def recipe(self) -> str:
        return str(self.config.get("recipe", "paper"))


def run_job(config: Any) -> Job:
    """One run (a config of any kind) as a job of its own (for its cost estimate)."""
    kind = kind_of(config)
    resolved = kind.resolve(config)
    assert resolved.batch_size is not None and resolved.repetition is not None
    steps = protocol_steps(config.data, resolved.epochs, resolved.batch_size, resolved.repetition)
    mixes = pool_mixes(resolved) if isinstance(resolved, ClassifierConfig) else 0
    return Job(id=kind.name, kind=kind.name, config=json_ready(to_dict(config)), steps=steps, pool_mixes=mixes)


def json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as they read back from plan.json (tuples become lists), so that plans compare equal."""
    ready: dict[str, Any] = json.loads(json.dumps(values))
    return ready


def protocol_steps(data: DataConfig, epochs: int, batch_size: int, repetition_base: int) -> int:
    """``epochs * ceil(k * C * max(R // k, 1) / batch)``: the protocol's optimizer steps of one run."""
    repeats = repetition_factor(data.k, repetition_base)
    return epochs * steps_per_epoch(data.k * num_classes(data.dataset), repeats, batch_size)


def pool_mixes(resolved: ClassifierConfig) -> int:
    """The mixes of a resolved classifier's pool, made before training (its components' ``pool_mixes``)."""
    return sum(hooks.pool_mixes(resolved) for _, hooks in parse_method(resolved.method).hooks() if hooks.pool_mixes)
