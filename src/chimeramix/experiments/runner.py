"""Running a sweep: the task executor (claim, run, record) and the coordinator loop that feeds a launcher.

A *task* is what one worker runs: one job, or a *pack* of jobs of one kind that differ only in their split
seed (and, for classifiers, in methods of one batch form), trained together as one batched model
(:mod:`chimeramix.train.trainers`; ``RunOptions.pack``). The
function that trains a task is injectable (:data:`JobFunction`); the default, :func:`train_jobs`, calls the
trainers. Whatever runs a task, the store decides what happened: a job is finished iff its run directory
holds ``result.json``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from tqdm import tqdm

from chimeramix.config import from_dict
from chimeramix.errors import ChimeraMixError, DataError
from chimeramix.experiments.costs import record_cost
from chimeramix.experiments.plan import Job
from chimeramix.experiments.store import DEFAULT_HEARTBEAT_S, DEFAULT_STALE_AFTER_S, ClaimInfo, Store
from chimeramix.progress import PROGRESS_INTERVAL_VARIABLE
from chimeramix.resolution import first_run_field
from chimeramix.runkinds import run_kind

JobFunction = Callable[[Sequence[Job], Sequence[Path], bool], Any]
"""``job_fn(jobs, run_dirs, resume)`` trains a task's jobs (one, or a pack) in their run directories and writes
each ``run_dir/result.json`` last; ``resume``: some run directory already holds work."""

LOG = logging.getLogger("chimeramix.sweep")

Outcome = Literal["done", "failed", "busy", "crashed"]
"""How an attempt ended: finished; raised (recorded); claimed by someone else; its worker died."""


@dataclass(frozen=True)
class RunOptions:
    """Settings of this machine that are not part of a job's definition."""

    data_root: str | None = None
    device: str = "auto"
    fast: bool = False
    """Run every job on the fast GPU path (``chimeramix.train.fast``); it computes the same, so job ids
    do not depend on it."""
    pack: int = 1
    """Train up to this many jobs of one kind that differ only in split seed and method as one pack (one
    worker; the trainers' pack keys say which jobs may share a pack)."""
    generator_pack: int | None = None
    """The pack size for generator jobs; ``None``: ``pack``."""

    stale_after_s: float = DEFAULT_STALE_AFTER_S
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    threads: int | None = None
    """Compute threads of each worker (set by the launcher: the cores divided among its workers, so that
    workers share the cores instead of fighting over them); ``None``: torch's default."""

    def pack_size(self, kind: str) -> int:
        """The largest pack of jobs of this kind (``generator`` or ``classifier``)."""
        return self.generator_pack if kind == "generator" and self.generator_pack is not None else self.pack


@dataclass(frozen=True)
class Ended:
    """A launcher's report that one submitted task stopped running."""

    job_ids: tuple[str, ...]
    outcome: Outcome
    detail: str = ""
    pid: int | None = None
    """The worker process that died (``crashed`` on this host), so that its claims can be cleared."""


class Launcher(Protocol):
    """Runs :func:`execute_jobs` calls (tasks) somewhere; ``slots`` of them at a time."""

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


def execute_jobs(store_root: str, jobs: Sequence[Job], job_fn: JobFunction, options: RunOptions) -> Outcome:
    """Claim a task's jobs, run those claimed with the output appended to ``STORE/logs/<first id>.log``
    (the other jobs' logs point there), release the claims.

    An exception from ``job_fn`` is recorded as a failed attempt of every job it ran (``failed``; a
    :class:`~chimeramix.errors.DataError` as one that retrying cannot fix); jobs
    someone else holds are left alone (``busy`` when that leaves none). Run directories with content are
    resumed (``resume=True``).
    """
    store = Store.open(store_root)
    if options.threads is not None:
        limit_threads(options.threads)
    claims = []
    try:
        for job in jobs:
            if not store.is_finished(job.id):
                claim = store.claim(job.id, stale_after_s=options.stale_after_s, heartbeat_s=options.heartbeat_s)
                if claim is not None:
                    claims.append((job, claim))
        mine = [job for job, _ in claims if not store.is_finished(job.id)]
        if not mine:
            return "done" if all(store.is_finished(job.id) for job in jobs) else "busy"
        run_dirs = [store.run_dir(job.id) for job in mine]
        resume = any(run_dir.is_dir() and any(run_dir.iterdir()) for run_dir in run_dirs)
        log_path = store.log_path(mine[0].id)
        attempt = (f"attempt on {socket.gethostname()} pid {os.getpid()} at {time.strftime('%Y-%m-%d %H:%M:%S')}, "
                   f"resume={resume}")
        for job in mine[1:]:
            _append_line(store.log_path(job.id), f"=== {job.id}: {attempt}, in a pack; output in {log_path}")
        with _output_to(log_path) as log:
            pack = f", pack of {len(mine)}: {' '.join(job.id for job in mine)}" if len(mine) > 1 else ""
            print(f"=== {mine[0].id}: {attempt}{pack}", file=log, flush=True)
            try:
                started = time.perf_counter()
                job_fn([_with_options(job, store, options) for job in mine], run_dirs, resume)
                unfinished = [job.id for job in mine if not store.is_finished(job.id)]
                if unfinished:
                    raise ChimeraMixError(f"jobs {unfinished} ended without writing their result.json")
                elapsed = time.perf_counter() - started
                if len(mine) == 1:
                    record_cost(mine[0].cost_key, store.result(mine[0].id), elapsed)
                load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
                print(f"=== {mine[0].id}: finished in {elapsed:.1f} s (load average {load})", file=log, flush=True)
            except Exception as error:
                traceback.print_exc(file=log)
                for job in mine:
                    if not store.is_finished(job.id):
                        store.record_failure(job.id, f"{type(error).__name__}: {error}",
                                             retry=not isinstance(error, DataError))
                return "failed"
        return "done"
    finally:
        for _, claim in claims:
            claim.release()


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Run this worker's computations on ``threads`` threads: the variables torch and the BLAS libraries read
    when they load, and torch's setting if it is loaded already."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def available_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _with_options(job: Job, store: Store, options: RunOptions) -> Job:
    """The job's config with this machine's data root, device and path, and its generator's (or teacher's) run
    directory."""
    data = {**job.config["data"], "data_root": options.data_root}
    config = {**job.config, "device": options.device, "fast": options.fast, "data": data}
    field = first_run_field(job.config["method"]) if job.kind == "classifier" else None
    if job.depends_on is not None and field is not None:
        config[field] = str(store.run_dir(job.depends_on))
    return replace(job, config=config)


LOG_PROGRESS_INTERVAL_S = 30


@contextmanager
def _output_to(log_path: Path) -> Iterator[TextIO]:
    """Send this process's stdout and stderr (Python and file-descriptor level) to ``log_path``.

    The trainers' progress bars in the log update every ``LOG_PROGRESS_INTERVAL_S`` seconds
    (:func:`chimeramix.runtime.progress_bar`), so that a long job's log stays readable.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault(PROGRESS_INTERVAL_VARIABLE, str(LOG_PROGRESS_INTERVAL_S))
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with redirect_stdout(log), redirect_stderr(log), _library_lines_to(log):
                yield log
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def _library_lines_to(log: TextIO) -> Iterator[None]:
    """The library's lines (a trainer's epochs, SuperMix's pool, data notes) into ``log`` too, as the command line
    shows them with ``--no-progress``: a spawned worker's logging has no handler, so they were lost. The job's
    log is their only handler while it runs (a Ray worker runs several tasks one after another)."""
    logger = logging.getLogger("chimeramix")
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


# ----------------------------------------------------------------------------------------------- coordinator


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
    running: set[str] = set()
    tasks = 0  # in flight on the launcher; each holds one slot
    report = SweepReport()
    announced: set[str] = set()
    for adopted in launcher.adopt(str(store.root), set(by_id)):
        running.update(adopted)
        tasks += 1
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
            submitted = 0
            for task in _ready_tasks(candidates, finished, store, options):
                if tasks >= launcher.slots:
                    break
                launcher.submit(str(store.root), task, job_fn, options)
                running.update(job.id for job in task)
                tasks += 1
                submitted += 1
            bar.n = len(finished)
            example = f" ({min(held)}: {held[min(held)]})" if held else ""
            bar.set_postfix_str(f"running={len(running)}, waiting={len(held)}{example}, failed={len(exhausted)}")
            if not tasks and not held and not submitted:
                break
            if not tasks:
                time.sleep(poll_s)  # only other sweeps' jobs are in progress: poll the store
    finally:
        bar.close()
        launcher.close()
    return SweepReport(sorted(finished), report.ran, {job_id: store.failures(job_id) for job_id in sorted(exhausted)},
                       dict(sorted(blocked.items())))


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
