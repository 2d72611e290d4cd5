"""Running a sweep: the job executor (claim, run, record) and the coordinator loop that feeds a launcher.

The function that trains one job is injectable (:data:`JobFunction`); the default, :func:`train_job`,
calls the generator and classifier trainers. Whatever runs a job, the store decides what happened: a job
is finished iff its run directory holds ``result.json``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from tqdm import tqdm

from chimeramix.config import ClassifierConfig, GeneratorConfig, from_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.plan import Job
from chimeramix.experiments.store import DEFAULT_HEARTBEAT_S, DEFAULT_STALE_AFTER_S, Store

JobFunction = Callable[[Job, Path, bool], Any]
"""``job_fn(job, run_dir, resume)`` trains ``job`` in ``run_dir`` and writes ``run_dir/result.json`` last."""

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
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    heartbeat_s: float = DEFAULT_HEARTBEAT_S


@dataclass(frozen=True)
class Ended:
    """A launcher's report that one submitted job stopped running."""

    job_id: str
    outcome: Outcome
    detail: str = ""
    pid: int | None = None
    """The worker process that died (``crashed`` on this host), so that its claim can be cleared."""


class Launcher(Protocol):
    """Runs :func:`execute_job` calls somewhere; ``slots`` of them at a time."""

    slots: int

    def submit(self, store_root: str, job: Job, job_fn: JobFunction, options: RunOptions) -> None: ...

    def wait(self, timeout_s: float) -> list[Ended]:
        """Block up to ``timeout_s`` for running jobs to end; return those that did."""
        ...

    def close(self) -> None: ...


def train_job(job: Job, run_dir: Path, resume: bool) -> Any:
    """The default job function: train the job's generator or classifier with its progress bars on."""
    if job.kind == "generator":
        from chimeramix.train.generator import train_generator

        return train_generator(from_dict(GeneratorConfig, job.config), run_dir, resume=resume, progress=True)
    from chimeramix.train.classifier import train_classifier

    return train_classifier(from_dict(ClassifierConfig, job.config), run_dir, resume=resume, progress=True)


def execute_job(store_root: str, job: Job, job_fn: JobFunction, options: RunOptions) -> Outcome:
    """Claim ``job``, run it with its output appended to ``STORE/logs/<id>.log``, release the claim.

    An exception from ``job_fn`` is recorded as a failed attempt (``failed``); a job someone else holds
    is left alone (``busy``). A run directory with content is resumed (``resume=True``).
    """
    store = Store.open(store_root)
    if store.is_finished(job.id):
        return "done"
    claim = store.claim(job.id, stale_after_s=options.stale_after_s, heartbeat_s=options.heartbeat_s)
    if claim is None:
        return "busy"
    try:
        if store.is_finished(job.id):
            return "done"
        run_dir = store.run_dir(job.id)
        resume = run_dir.is_dir() and any(run_dir.iterdir())
        with _output_to(store.log_path(job.id)) as log:
            print(f"=== {job.id}: attempt on {socket.gethostname()} pid {os.getpid()} at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}, resume={resume}", file=log, flush=True)
            try:
                job_fn(_with_options(job, store, options), run_dir, resume)
                if not store.is_finished(job.id):
                    raise ChimeraMixError(f"job {job.id} ended without writing {store.result_path(job.id)}")
            except Exception as error:
                traceback.print_exc(file=log)
                store.record_failure(job.id, f"{type(error).__name__}: {error}")
                return "failed"
        return "done"
    finally:
        claim.release()


def _with_options(job: Job, store: Store, options: RunOptions) -> Job:
    """The job's config with this machine's data root, device and path, and its generator's run directory."""
    data = {**job.config["data"], "data_root": options.data_root}
    config = {**job.config, "device": options.device, "fast": options.fast, "data": data}
    if job.depends_on is not None:
        config["generator"] = str(store.run_dir(job.depends_on))
    return replace(job, config=config)


LOG_PROGRESS_INTERVAL_S = 30


@contextmanager
def _output_to(log_path: Path) -> Iterator[TextIO]:
    """Send this process's stdout and stderr (Python and file-descriptor level) to ``log_path``.

    Progress bars in the log update every ``LOG_PROGRESS_INTERVAL_S`` seconds (tqdm reads its defaults from
    ``TQDM_*`` variables), so that a long job's log stays readable.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TQDM_MININTERVAL", str(LOG_PROGRESS_INTERVAL_S))
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with redirect_stdout(log), redirect_stderr(log):
                yield log
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


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
    job_fn: JobFunction = train_job,
    options: RunOptions | None = None,
    max_attempts: int = 2,
    poll_s: float = 1.0,
    progress: bool = True,
) -> SweepReport:
    """Run every unfinished job of ``jobs`` (dependencies first) on ``launcher`` until none is left.

    Finished jobs are skipped, interrupted ones resumed, failed ones retried until they have failed
    ``max_attempts`` times. Jobs another sweep holds are waited for, never run twice.
    """
    options = options or RunOptions()
    store.merge_plan(jobs)
    by_id = {job.id: job for job in jobs}
    running: set[str] = set()
    report = SweepReport()
    bar = tqdm(total=len(jobs), desc="sweep", unit="job", disable=not progress, dynamic_ncols=True)
    try:
        while True:
            for ended in launcher.wait(0 if not running else poll_s):
                running.discard(ended.job_id)
                if ended.outcome == "crashed":
                    store.record_failure(ended.job_id, ended.detail)
                    if ended.pid is not None:
                        store.clear_claim_of(ended.job_id, ended.pid)
                elif ended.outcome == "done" and store.is_finished(ended.job_id):
                    report.ran.append(ended.job_id)
            finished = {job_id for job_id in by_id if store.is_finished(job_id)}
            exhausted = {job_id for job_id in by_id
                         if job_id not in finished and len(store.failures(job_id)) >= max_attempts}
            blocked = _blocked(by_id, exhausted)
            waiting = submitted = 0
            for job in jobs:
                if job.id in finished | exhausted | blocked.keys() | running:
                    continue
                if job.depends_on is not None and job.depends_on not in finished:
                    continue
                if store.live_claim(job.id, options.stale_after_s) is not None:
                    waiting += 1
                elif len(running) < launcher.slots:
                    launcher.submit(str(store.root), job, job_fn, options)
                    running.add(job.id)
                    submitted += 1
            bar.n = len(finished)
            bar.set_postfix(running=len(running), waiting=waiting, failed=len(exhausted), refresh=True)
            if not running and not waiting and not submitted:
                break
            if not running:
                time.sleep(poll_s)  # only other sweeps' jobs are in progress: poll the store
    finally:
        bar.close()
        launcher.close()
    report.finished = sorted(finished)
    report.failed = {job_id: store.failures(job_id) for job_id in sorted(exhausted)}
    report.blocked = dict(sorted(blocked.items()))
    return report


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
