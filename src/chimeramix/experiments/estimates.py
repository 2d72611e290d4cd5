"""Estimates of a list of a sweep's jobs from the costs of :class:`~chimeramix.experiments.costs.CostBook`: the
seconds they take one after another, and a line per cost key saying what each estimate rests on. A job resumed
from a checkpoint is estimated by the steps it has left (:func:`remaining`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from chimeramix.components.registry import parse_method
from chimeramix.experiments.costs import CostBook, RunCost, pool_mix_key
from chimeramix.experiments.jobs import Job


def remaining(job: Job, run_dir: Path) -> Job:
    """``job`` as far as it is left in ``run_dir``: the steps after its latest checkpoint, and no pool of mixes
    when the run made it already (a fresh job is returned as it is)."""
    from chimeramix.checkpoint import checkpoint_state  # imports torch: only when estimating

    state = checkpoint_state(run_dir)
    done = int(state.get("step", 0)) if state else 0
    pool = 0 if job.pool_mixes and _pool_made(job, run_dir) else job.pool_mixes
    return replace(job, steps=max(0, job.steps - done), pool_mixes=pool)


def _pool_made(job: Job, run_dir: Path) -> bool:
    """Whether the classifier run in ``run_dir`` has made its pool of mixes (its components' ``pool_file``)."""
    method = parse_method(str(job.config["method"]))
    return any(hooks.pool_file and (run_dir / hooks.pool_file).is_file() for _, hooks in method.hooks())


def cost_lines(jobs: list[Job], book: CostBook) -> list[str]:
    """One line per cost key of ``jobs``: its jobs, steps and the cost per step with its basis."""
    keys: dict[str, list[Job]] = {}
    for job in jobs:
        keys.setdefault(job.cost_key, []).append(job)
    return [f"  {key}: {len(chosen)} run(s), {sum(job.steps for job in chosen):,} steps x {book.describe(key)} + "
            f"{book.overhead(key):.0f} s fixed each" for key, chosen in keys.items()]


@dataclass(frozen=True)
class CostEstimate:
    """Steps and estimated seconds of a list of jobs, run one after another."""

    generator_jobs: int
    classifier_jobs: int
    generator_steps: int
    classifier_steps: int
    seconds: float


def estimate_cost(jobs: list[Job], device: str, step_seconds: dict[str, float] | None = None,
                  measured: dict[str, RunCost] | None = None) -> CostEstimate:
    """Sum the jobs' costs, one after another: each its steps times a per-step cost (``step_seconds``, else
    this machine's ``measured`` costs, else the ``device`` defaults) plus its fixed cost (measured, else the
    default of its kind), and a classifier's pool mixes times a per-mix cost (found the same way)."""
    book = CostBook(device, dict(step_seconds or {}), dict(measured or {}))
    seconds = 0.0
    for job in jobs:
        seconds += job.steps * book.step_seconds(job.cost_key) + book.overhead(job.cost_key)
        if job.pool_mixes:
            seconds += job.pool_mixes * book.step_seconds(pool_mix_key(job.cost_key))
    generators = [job for job in jobs if job.kind == "generator"]
    classifiers = [job for job in jobs if job.kind == "classifier"]
    return CostEstimate(
        generator_jobs=len(generators),
        classifier_jobs=len(classifiers),
        generator_steps=sum(job.steps for job in generators),
        classifier_steps=sum(job.steps for job in classifiers),
        seconds=seconds,
    )
