"""Where jobs run, on a SLURM cluster: :class:`SlurmLauncher` submits each task (a job, or a pack) as one batch job
with ``sbatch`` and follows it with ``squeue``; ``python -m chimeramix.experiments.slurm TASK.json`` is what
such a batch job runs (:func:`main`: :func:`chimeramix.experiments.worker.execute_jobs`, as the other launchers).

Why ``sbatch`` and not submitit: submitit learns how its jobs ended from ``sacct``, which needs SLURM's
accounting database (slurmdbd), and keeps that knowledge in the submitting Python process, pickled. Here the
store already decides what happened to a job (``result.json``, failure records, claims), so all the launcher
needs from SLURM is "still queued or running" (``squeue``, which every cluster answers), and the files below
let a new sweep of the same store follow the batch jobs an earlier, killed one submitted.

Files, beside the store's own (on the filesystem every node sees)::

    STORE/slurm/<task>.task.json      what one batch job runs (store, jobs, options, job function); its SLURM id
    STORE/slurm/<task>.status.json    host and pid when it starts; its outcome when it ends
    STORE/logs/<job-id>.log           the job's output, every attempt appended (as for every launcher)
    STORE/logs/<job-id>.slurm-<N>.out SLURM's output of batch job N (before and after chimeramix runs)

A batch job that SLURM stops (``scancel``, its time limit, preemption) gets SIGTERM; the job then records a
failed attempt and releases its claims, as any failing job does. One that ends without an outcome (killed
hard, its node lost, cancelled before it started) is recorded as a failed attempt by the launcher that sees it
leave the queue. Either way the sweep retries it up to ``--max-attempts``; SLURM never requeues a batch job
itself (``--no-requeue``), so every attempt is counted once.
"""

from __future__ import annotations

import importlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.runner import Ended
from chimeramix.experiments.store import Store
from chimeramix.experiments.worker import JobFunction, RunOptions, execute_jobs
from chimeramix.fileio import read_json, write_json

LOG = logging.getLogger("chimeramix.sweep")

SQUEUE_INTERVAL_S = 10.0
"""How often the launcher asks ``squeue`` which batch jobs are still queued or running."""

SBATCH_TRIES = 3
"""Tries of one submission before the sweep stops (a busy controller refuses now and then)."""

DEFAULT_QUEUED = 100
"""Batch jobs a sweep keeps in SLURM's queue at once unless ``--workers`` says otherwise."""

FIXED_OPTIONS = frozenset({"job-name", "output", "error", "wrap", "parsable", "requeue", "no-requeue"})
"""sbatch options the launcher always sets itself."""


@dataclass(frozen=True)
class SlurmTask:
    """A submitted batch job that the launcher follows."""

    path: Path
    """Its task file."""
    store: Store
    slurm_job: str
    job_ids: tuple[str, ...]
    since: float
    """When it was submitted or adopted (monotonic): only a later ``squeue`` can tell that it left the queue."""


class SlurmLauncher:
    """Runs tasks as SLURM batch jobs of ``cpus_per_job`` CPUs and ``gpus_per_job`` whole GPUs, up to ``max_jobs``
    queued or running at once; ``options`` are further sbatch options without their dashes (``mem=16G``).

    The options are checked with ``sbatch --test-only`` first. Batch jobs still queued or running when the sweep
    stops keep going; the next sweep of the store follows them (:meth:`adopt`).
    """

    def __init__(self, *, partition: str | None = None, time_limit: str | None = None, cpus_per_job: float = 1,
                 gpus_per_job: float = 0, options: Sequence[str] = (), max_jobs: int = DEFAULT_QUEUED) -> None:
        if max_jobs < 1:
            raise ChimeraMixError(f"--workers (batch jobs queued at once) must be at least 1, got {max_jobs}")
        if cpus_per_job < 1 or not float(cpus_per_job).is_integer():
            raise ChimeraMixError(f"--cpus-per-job must be a whole number of CPUs for SLURM, got {cpus_per_job}")
        if gpus_per_job < 0 or not float(gpus_per_job).is_integer():
            raise ChimeraMixError(
                f"--gpus-per-job must be a whole number of GPUs for SLURM, got {gpus_per_job}; to train several "
                "runs on one GPU, train them as one pack (--pack N) or use your cluster's GPU shares "
                "(e.g. --slurm-option gres=shard:1)")
        self.slots = max_jobs
        self.threads = int(cpus_per_job)
        """Compute threads of each task: the CPUs of its batch job."""
        resources = {"partition": partition, "time": time_limit, "cpus-per-task": str(int(cpus_per_job)),
                     "gres": f"gpu:{int(gpus_per_job)}" if gpus_per_job else None}
        given = {name: value for name, value in resources.items() if value}
        self.sbatch_options = ["--no-requeue", *(f"--{name}={value}" for name, value in given.items()),
                               *(sbatch_option(text, FIXED_OPTIONS | given.keys()) for text in options)]
        self._tasks: dict[Path, SlurmTask] = {}
        self._alive: set[str] = set()
        self._asked = self._queried = float("-inf")
        """When ``squeue`` was last asked, and when it last answered (monotonic)."""
        check = _run(["sbatch", "--test-only", *self.sbatch_options, "--wrap", "true"])
        if check.returncode != 0:
            raise ChimeraMixError(f"SLURM refuses these batch jobs ({_last_line(check)}); check --slurm-partition, "
                                  "--slurm-time, --slurm-option, --cpus-per-job and --gpus-per-job")

    # ------------------------------------------------------------------------------------------- protocol

    def adopt(self, store_root: str, job_ids: set[str]) -> list[tuple[str, ...]]:
        """Follow the batch jobs of this store that an earlier sweep submitted and nobody saw end (their task
        files have no outcome), when all their jobs are among ``job_ids``; returns their job ids."""
        store = Store(store_root)
        adopted = []
        for path in sorted((store.root / "slurm").glob("*.task.json")):
            task = read_json(path)
            ids = tuple(job["id"] for job in task["jobs"])
            if "slurm_job" in task and "outcome" not in _status(path) and set(ids) <= job_ids:
                adopted.append(SlurmTask(path, store, task["slurm_job"], ids, time.monotonic()))
        if adopted:
            LOG.info("following %d SLURM batch jobs that an earlier sweep of this store submitted: %s", len(adopted),
                     " ".join(task.slurm_job for task in adopted))
        self._tasks.update((task.path, task) for task in adopted)
        return [task.job_ids for task in adopted]

    def submit(self, store_root: str, jobs: tuple[Job, ...], job_fn: JobFunction, options: RunOptions) -> None:
        if options.threads is None:
            options = replace(options, threads=self.threads)
        store = Store(store_root)
        path = store.root / "slurm" / f"{jobs[0].id}-{uuid.uuid4().hex[:8]}.task.json"
        task = {"store": str(store.root), "jobs": [job.to_dict() for job in jobs], "job_fn": import_name(job_fn),
                "options": asdict(options)}
        write_json(path, task)
        output = slurm_output(store, jobs[0].id, "%j")  # sbatch puts the batch job's id for %j
        output.parent.mkdir(parents=True, exist_ok=True)  # SLURM fails a batch job whose output folder is missing
        run = f"exec {shlex.quote(sys.executable)} -m chimeramix.experiments.slurm {shlex.quote(str(path))}"
        command = ["sbatch", "--parsable", f"--job-name={jobs[0].id}", f"--output={output}", *self.sbatch_options,
                   "--wrap", run]
        slurm_job = self._sbatch(command, path)
        write_json(path, {**task, "slurm_job": slurm_job, "sbatch": command})
        self._tasks[path] = SlurmTask(path, store, slurm_job, tuple(job.id for job in jobs), time.monotonic())

    def wait(self, timeout_s: float) -> list[Ended]:
        deadline = time.monotonic() + timeout_s
        while True:
            ended = self._ended()
            if ended or time.monotonic() >= deadline:
                return ended
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        """Leave the batch jobs still queued or running to SLURM: the next sweep of the store follows them."""
        if self._tasks:
            ids = " ".join(task.slurm_job for task in self._tasks.values())
            LOG.warning("%d SLURM batch jobs of this sweep are still queued or running (%s); rerun the same "
                        "command to follow them, or cancel them with `scancel %s`", len(self._tasks), ids, ids)
        self._tasks.clear()

    # -------------------------------------------------------------------------------------------- helpers

    def _sbatch(self, command: list[str], path: Path) -> str:
        """Submit; the batch job's SLURM id. A refusal is tried again, then stops the sweep."""
        for attempt in range(1, SBATCH_TRIES + 1):
            done = _run(command)
            if done.returncode == 0:
                return done.stdout.strip().split(";")[0]
            if attempt < SBATCH_TRIES:
                time.sleep(5 * attempt)
        path.unlink()
        raise ChimeraMixError(f"sbatch refused a batch job {SBATCH_TRIES} times ({_last_line(done)}); when the "
                              "cluster limits jobs per user, pass --workers below that limit; rerun the same "
                              "command to continue (batch jobs already submitted keep running)")

    def _ended(self) -> list[Ended]:
        """The followed tasks that wrote their outcome or left SLURM's queue, settled."""
        if self._tasks and time.monotonic() - self._asked >= SQUEUE_INTERVAL_S:
            self._asked = time.monotonic()
            queue = _run(["squeue", "--me", "--noheader", "--format=%i"])
            if queue.returncode == 0:
                self._alive, self._queried = set(queue.stdout.split()), self._asked
            else:  # a busy controller: the jobs did not end, ask again later
                LOG.info("squeue failed (%s); asking again in %.0f s", _last_line(queue), SQUEUE_INTERVAL_S)
        ended = []
        for path, task in list(self._tasks.items()):
            left_queue = task.since < self._queried and task.slurm_job not in self._alive
            if left_queue or "outcome" in _status(path):
                ended.append(self._settle(task))
                del self._tasks[path]
        return ended

    def _settle(self, task: SlurmTask) -> Ended:
        """How a task's batch job ended: its own outcome, or, when it wrote none, a failed attempt of each of its
        unfinished jobs that this launcher records (once, under the status file's lock) after clearing its
        claims."""
        status_path, store = _status_path(task.path), task.store
        with store.lock(status_path):
            status = _status(task.path)
            if "outcome" not in status:
                where = f"on {status['host']} (pid {status['pid']})" if "pid" in status else "before chimeramix started"
                output = slurm_output(store, task.job_ids[0], task.slurm_job)
                error = (f"SLURM batch job {task.slurm_job} ended {where} without an outcome "
                         f"({_slurm_state(task.slurm_job)}); see {output}")
                for job_id in task.job_ids:
                    if "pid" in status:
                        store.clear_claim_of(job_id, int(status["pid"]), str(status["host"]))
                    if not store.is_finished(job_id):
                        store.record_failure(job_id, error)
                finished = all(store.is_finished(job_id) for job_id in task.job_ids)
                status = {**status, "outcome": "done" if finished else "failed", "error": error}
                write_json(status_path, status)
        return Ended(task.job_ids, status["outcome"], status.get("error", ""))


def sbatch_option(text: str, taken: set[str] | frozenset[str]) -> str:
    """``mem=16G`` (or ``--mem=16G``) -> ``--mem=16G``; an option among ``taken`` (set by the launcher) is refused."""
    name = text.lstrip("-").partition("=")[0]
    if not name or name != name.strip() or " " in name:
        raise ChimeraMixError(f"cannot read --slurm-option {text!r}; write an sbatch option without its dashes, "
                              "e.g. mem=16G or account=lab")
    if name in taken:
        raise ChimeraMixError(f"--slurm-option {text!r} sets what the launcher sets itself; use --slurm-partition, "
                              "--slurm-time, --cpus-per-job or --gpus-per-job (job name, output and no requeueing "
                              "are fixed)")
    return "--" + text.lstrip("-")


def slurm_output(store: Store, job_id: str, slurm_job: str) -> Path:
    """SLURM's own output of batch job ``slurm_job``, whose task starts with ``job_id``."""
    return store.root / "logs" / f"{job_id}.slurm-{slurm_job}.out"


def import_name(function: JobFunction) -> str:
    """``module:name`` of a job function, by which a batch job imports it."""
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in name:
        raise ChimeraMixError(f"the slurm launcher imports the job function by name; {function!r} has none "
                              "(define it at module level in an importable module)")
    return f"{module}:{name}"


def import_object(name: str) -> Any:
    """The object that :func:`import_name` named."""
    module, _, qualname = name.partition(":")
    value: Any = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def _status_path(task_path: Path) -> Path:
    return task_path.with_name(task_path.name.removesuffix(".task.json") + ".status.json")


def _status(task_path: Path) -> dict[str, Any]:
    """What a task's batch job wrote about itself (empty before it started)."""
    path = _status_path(task_path)
    return dict(read_json(path)) if path.is_file() else {}


def _slurm_state(slurm_job: str) -> str:
    """``CANCELLED, exit code 0:15`` from ``scontrol show job`` (SLURM forgets ended jobs after a few minutes)."""
    shown = _run(["scontrol", "--oneliner", "show", "job", slurm_job])
    fields = dict(item.split("=", 1) for item in shown.stdout.split() if "=" in item)
    if shown.returncode != 0 or "JobState" not in fields:
        return "state no longer known to SLURM"
    reason = f", {fields['Reason']}" if fields.get("Reason", "None") != "None" else ""
    return f"{fields['JobState']}{reason}, exit code {fields.get('ExitCode', '?')}"


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a SLURM command; a missing one is an error that says where sweeps on SLURM run."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise ChimeraMixError(f"the slurm launcher needs SLURM's {command[0]} on PATH; run the sweep on a machine "
                              "that submits to the cluster (a login node)") from None
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", f"{command[0]} did not answer in 120 s")


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


# ------------------------------------------------------------------------------------------- in the batch job


class StoppedBySlurm(Exception):
    """SLURM sent SIGTERM: the batch job was cancelled, reached its time limit or was preempted."""


def _stop(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: recording the attempt must not be cut short
    raise StoppedBySlurm("SLURM stopped the batch job (SIGTERM: scancel, its time limit or preemption)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the task file ``argv[0]`` in this batch job: note where it runs, run it, note its outcome."""
    (task_file,) = sys.argv[1:] if argv is None else argv
    path = Path(task_file)
    task = read_json(path)
    status = {"slurm_job": os.environ.get("SLURM_JOB_ID"), "host": socket.gethostname(), "pid": os.getpid(),
              "started": time.time()}
    write_json(_status_path(path), status)
    signal.signal(signal.SIGTERM, _stop)
    jobs = [Job.from_dict(values) for values in task["jobs"]]
    print(f"chimeramix: SLURM batch job {status['slurm_job']} runs {' '.join(job.id for job in jobs)}; their output: "
          f"{Store(task['store']).log_path(jobs[0].id)}", flush=True)
    outcome = execute_jobs(task["store"], jobs, import_object(task["job_fn"]), RunOptions(**task["options"]))
    write_json(_status_path(path), {**status, "outcome": outcome, "ended": time.time()})
    print(f"chimeramix: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
