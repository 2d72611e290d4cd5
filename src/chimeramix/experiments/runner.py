"""Running a sweep: the coordinator loop that feeds a launcher tasks whose jobs are ready, follows how they end, and
keeps the books of the store (attempts, claims of other sweeps, jobs blocked by a failed dependency).

A task is one job or a pack of jobs (:mod:`chimeramix.experiments.worker`, which also runs it); a launcher runs
tasks somewhere (:mod:`chimeramix.experiments.launchers`, :mod:`chimeramix.experiments.slurm`). Whatever runs a
task, the store decides what happened: a job is finished iff its run directory holds ``result.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from chimeramix.config import from_dict
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.store import ClaimInfo, Store
from chimeramix.experiments.worker import JobFunction, Outcome, RunOptions
from chimeramix.runkinds import run_kind

LOG = logging.getLogger("chimeramix.sweep")


@dataclass(frozen=True)
class Ended:
    """A launcher's report that one submitted task stopped running."""

    job_ids: tuple[str, ...]
    outcome: Outcome
    detail: str = ""
    pid: int | None = None
    """The worker process that died (``crashed`` on this host), so that its claims can be cleared."""


class Launcher(Protocol):
    """Runs :func:`~chimeramix.experiments.worker.execute_jobs` calls (tasks) somewhere; ``slots`` of them at a time."""

    slots: int

    def adopt(self, store_root: str, job_ids: set[str]) -> list[tuple[str, ...]]:
        """Follow the tasks of these jobs that an earlier sweep of the store left running, as if submitted now
        (their end comes from :meth:`wait`); returns their job ids."""
        ...

    def submit(self, store_root: str, jobs: tuple[Job, ...], job_fn: JobFunction, options: RunOptions) -> None: ...

    def wait(self, timeout_s: float) -> list[Ended]:
        """Block up to ``timeout_s`` for running tasks to end; return those that did."""
        ...

    def close(self) -> None: ...


def train_jobs(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> Any:
    """The default job function: train the task's runs (one, or a pack) with their trainer, progress bars on."""
    from chimeramix.train.trainers import train_pack  # imports torch: only workers need it

    configs: list[Any] = [from_dict(run_kind(job.kind).config, job.config) for job in jobs]
    return train_pack(configs, run_dirs, resume=resume or len(jobs) > 1, progress=True)


@dataclass
class SweepReport:
    """Where every job of a sweep stands after :func:`run_sweep`."""

    finished: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    """Jobs this sweep finished itself (the others were finished before or by another sweep)."""
    failed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Jobs that used up their attempts: id -> failed attempts."""
    blocked: dict[str, str] = field(default_factory=dict)
    """Jobs not run because a job they depend on failed: id -> that job's id."""

    @property
    def complete(self) -> bool:
        return not self.failed and not self.blocked


def run_sweep(
    store: Store,
    jobs: list[Job],
    launcher: Launcher,
    *,
    job_fn: JobFunction = train_jobs,
    options: RunOptions | None = None,
    max_attempts: int = 2,
    poll_s: float = 1.0,
    progress: bool = True,
) -> SweepReport:
    """Run every unfinished job of ``jobs`` (dependencies first) on ``launcher`` until none is left.

    Finished jobs are skipped, interrupted ones resumed, failed ones retried until they have failed
    ``max_attempts`` times (alone, not in a pack); a job that failed on its data in this sweep is not retried (a
    later sweep tries it again, once the data is fixed). Jobs another sweep holds are waited for, never run twice;
    tasks an earlier sweep left on the launcher's cluster (SLURM) are followed, not submitted again.
    """
    options = options or RunOptions()
    since = time.time()
    store.merge_plan(jobs)
    by_id = {job.id: job for job in jobs}
    adopted = launcher.adopt(str(store.root), set(by_id))
    running = {job_id for task in adopted for job_id in task}
    tasks = len(adopted)  # in flight on the launcher; each holds one slot
    report = SweepReport()
    announced: set[str] = set()
    bar = tqdm(total=len(jobs), desc="sweep", unit="job", disable=not progress, dynamic_ncols=True)
    try:
        while True:
            for ended in launcher.wait(0 if not tasks else poll_s):
                tasks -= 1
                running.difference_update(ended.job_ids)
                report.ran += _record_end(store, ended)
            finished = {job_id for job_id in by_id if store.is_finished(job_id)}
            exhausted = {job_id for job_id in by_id
                         if job_id not in finished and _exhausted(store.failures(job_id), max_attempts, since)}
            blocked = _blocked(by_id, exhausted)
            settled = finished | exhausted | blocked.keys() | running
            open_jobs = [job for job in jobs if job.id not in settled]
            held = _held_claims(store, open_jobs, options.stale_after_s, announced)
            announced = set(held)
            candidates = [job for job in open_jobs if job.id not in held]
            ready = _ready_tasks(candidates, finished, store, options)
            submitted = _submit(launcher, str(store.root), ready, tasks, job_fn, options, running)
            tasks += submitted
            bar.n = len(finished)
            bar.set_postfix_str(_progress_text(running, held, exhausted))
            if not tasks and not held and not submitted:
                break
            if not tasks:
                time.sleep(poll_s)  # only other sweeps' jobs are in progress: poll the store
    finally:
        bar.close()
        launcher.close()
    return SweepReport(sorted(finished), report.ran, {job_id: store.failures(job_id) for job_id in sorted(exhausted)},
                       dict(sorted(blocked.items())))


def _submit(launcher: Launcher, store_root: str, ready: list[tuple[Job, ...]], in_flight: int,
            job_fn: JobFunction, options: RunOptions, running: set[str]) -> int:
    """Submit ``ready`` tasks while the launcher has a free slot (``in_flight`` tasks hold one each), adding their
    jobs to ``running``; returns how many it submitted."""
    submitted = 0
    for task in ready:
        if in_flight + submitted >= launcher.slots:
            break
        launcher.submit(store_root, task, job_fn, options)
        running.update(job.id for job in task)
        submitted += 1
    return submitted


def _progress_text(running: set[str], held: dict[str, str], exhausted: set[str]) -> str:
    """The progress bar's counts: jobs running, waiting for another sweep's claim (naming one), failed."""
    example = f" ({min(held)}: {held[min(held)]})" if held else ""
    return f"running={len(running)}, waiting={len(held)}{example}, failed={len(exhausted)}"


def _exhausted(attempts: list[dict[str, Any]], max_attempts: int, since: float) -> bool:
    """Whether a job's failed ``attempts`` end its tries: ``max_attempts`` that retrying could fix, or one that it
    cannot (a data error) since ``since``, the start of this sweep."""
    retried = [attempt for attempt in attempts if attempt.get("retry", True)]
    return len(retried) >= max_attempts or any(not attempt.get("retry", True) and attempt["time"] >= since
                                               for attempt in attempts)


def _held_claims(store: Store, jobs: list[Job], stale_after_s: float, announced: set[str]) -> dict[str, str]:
    """The jobs another process holds a live claim of -> who holds it (logged once per job and claim)."""
    held = {}
    for job in jobs:
        claim = store.live_claim(job.id, stale_after_s)
        if claim is not None:
            held[job.id] = _holder(claim, stale_after_s)
            if job.id not in announced:
                LOG.info("waiting for %s: %s", job.id, held[job.id])
    return held


def _holder(claim: ClaimInfo | None, stale_after_s: float) -> str:
    """Who holds a claim, and when it will be taken over if its heartbeat stops."""
    if claim is None:
        return "free"
    age = time.time() - claim.heartbeat
    return (f"claimed by pid {claim.pid} on {claim.host} (another sweep), last heartbeat {age:.0f} s ago; "
            f"taken over if none comes for {stale_after_s:.0f} s")


def _record_end(store: Store, ended: Ended) -> list[str]:
    """Record how a task ended (a crash is a failed attempt of each of its jobs, whose claims are cleared);
    returns the jobs it finished."""
    finished = []
    for job_id in ended.job_ids:
        if ended.outcome == "crashed":
            store.record_failure(job_id, ended.detail)
            if ended.pid is not None:
                store.clear_claim_of(job_id, ended.pid)
        elif ended.outcome == "done" and store.is_finished(job_id):
            finished.append(job_id)
    return finished


def plan_tasks(jobs: Sequence[Job], options: RunOptions,
               alone: Callable[[str], bool] = lambda job_id: False) -> list[tuple[Job, ...]]:
    """``jobs`` as tasks, in plan order: jobs alone first, then packs of up to ``options.pack_size(kind)`` jobs
    of one kind that their trainer's pack key groups. Jobs for which ``alone(id)`` is true
    (a failed job, when retried) stay alone."""
    tasks: list[tuple[Job, ...]] = []
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if options.pack_size(job.kind) > 1 and not alone(job.id):
            groups.setdefault(_pack_group(job), []).append(job)
        else:
            tasks.append((job,))
    for members in groups.values():
        size = options.pack_size(members[0].kind)
        tasks += [tuple(members[start : start + size]) for start in range(0, len(members), size)]
    return tasks


def _ready_tasks(candidates: list[Job], finished: set[str], store: Store,
                 options: RunOptions) -> list[tuple[Job, ...]]:
    """The tasks of :func:`plan_tasks` that can start now: all their jobs' generators are finished. A pack waits
    for all of its members, so that generators finishing one by one do not split it."""
    tasks = plan_tasks(candidates, options, alone=lambda job_id: bool(store.failures(job_id)))
    return [task for task in tasks
            if all(job.depends_on is None or job.depends_on in finished for job in task)]


def _pack_group(job: Job) -> str:
    """What the jobs of one pack share: the kind and its pack key."""
    kind = run_kind(job.kind)
    return json.dumps([job.kind, kind.pack_key(from_dict(kind.config, job.config))], sort_keys=True)


def _blocked(jobs: dict[str, Job], exhausted: set[str]) -> dict[str, str]:
    """Jobs whose dependency (transitively) used up its attempts: id -> the failed job's id."""
    blocked: dict[str, str] = {}
    for job in jobs.values():
        root = job.depends_on
        while root is not None and root not in exhausted and root in jobs:
            root = jobs[root].depends_on
        if root is not None and root in exhausted:
            blocked[job.id] = root
    return blocked
