"""What a worker does with one task of a sweep: claim its jobs in the store, train those it claimed with the output
in the job's log, record the outcome, release the claims (:func:`execute_jobs`, which every launcher runs).

A *task* is one job, or a *pack* of jobs of one kind that differ only in their split seed (and, for classifiers, in
methods of one batch form), trained together as one batched model (:mod:`chimeramix.train.trainers`;
``RunOptions.pack``). The function that trains a task is injectable (:data:`JobFunction`; a sweep's default,
:func:`chimeramix.experiments.runner.train_jobs`, calls the trainers). Whatever runs a task, the store decides what
happened: a job is finished iff its run directory holds ``result.json``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TextIO

from chimeramix.errors import ChimeraMixError, DataError
from chimeramix.experiments.costs import record_cost
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.store import DEFAULT_HEARTBEAT_S, DEFAULT_STALE_AFTER_S, Store
from chimeramix.progress import PROGRESS_INTERVAL_VARIABLE
from chimeramix.resolution import first_run_field

JobFunction = Callable[[Sequence[Job], Sequence[Path], bool], Any]
"""``job_fn(jobs, run_dirs, resume)`` trains a task's jobs (one, or a pack) in their run directories and writes
each ``run_dir/result.json`` last; ``resume``: some run directory already holds work."""

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
    """The library's lines (a trainer's epochs, a pool of mixes, data notes) into ``log`` too, as the command line
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
