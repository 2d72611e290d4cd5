"""Where jobs run: ``local`` (one fresh process per job on this machine) or ``ray`` (tasks on a Ray cluster);
``slurm`` (batch jobs on a SLURM cluster) is :mod:`chimeramix.experiments.slurm`.

All run :func:`chimeramix.experiments.worker.execute_jobs` for each task (a job, or a pack of jobs), so claims,
logs and failure records behave the same; several tasks may share one GPU (local: all see the same devices;
ray: ``gpus_per_job`` < 1; slurm: packs). Local and Ray tasks end with their sweep, so neither has tasks of an
earlier sweep to adopt.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import wait as wait_for_sentinels
from multiprocessing.process import BaseProcess
from typing import Any

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.runner import Ended
from chimeramix.experiments.worker import JobFunction, Outcome, RunOptions, available_cores, execute_jobs

EXIT_CODES: dict[Outcome, int] = {"done": 0, "failed": 10, "busy": 11}
"""Exit code of a local job process per outcome; any other code means the process crashed or was killed."""


PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: a signal the kernel sends this process when its parent dies."""


def die_with_parent(parent: int) -> None:
    """Make the kernel end this worker (SIGTERM) when the sweep that started it dies, even by SIGKILL, so
    that no worker trains on, holding its claim, after its sweep (Linux; elsewhere the sweep's own shutdown
    stops its workers)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the sweep died before the signal was set up
        sys.exit(EXIT_CODES["busy"])


def _local_task(store_root: str, jobs: tuple[Job, ...], job_fn: JobFunction, options: RunOptions,
                parent: int) -> None:
    die_with_parent(parent)
    sys.exit(EXIT_CODES[execute_jobs(store_root, jobs, job_fn, options)])


class LocalLauncher:
    """Runs up to ``workers`` tasks at once, each in its own freshly spawned Python process.

    ``devices`` (e.g. ``["cuda:0", "cuda:1"]``) spreads the tasks over several devices: each new task goes to
    the device that runs the fewest tasks at that moment. Without it every task uses ``RunOptions.device``.
    Each worker computes on its share of the cores (C // workers threads), and dies with the sweep.
    """

    def __init__(self, workers: int = 1, devices: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ChimeraMixError(f"--workers must be at least 1, got {workers}")
        self.slots = workers
        self.devices = tuple(devices)
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[tuple[str, ...], BaseProcess] = {}
        """Running tasks by their job ids."""
        self._device_of: dict[tuple[str, ...], str] = {}

    def adopt(self, store_root: str, job_ids: set[str]) -> list[tuple[str, ...]]:
        return []

    def submit(self, store_root: str, jobs: tuple[Job, ...], job_fn: JobFunction, options: RunOptions) -> None:
        job_ids = tuple(job.id for job in jobs)
        if self.devices:
            load = Counter(self._device_of.values())
            device = min(self.devices, key=lambda name: load[name])
            self._device_of[job_ids] = device
            options = replace(options, device=device)
        if options.threads is None:
            options = replace(options, threads=max(1, available_cores() // self.slots))
        process = self._context.Process(target=_local_task, args=(store_root, jobs, job_fn, options, os.getpid()),
                                        name=f"chimeramix-{job_ids[0]}")
        process.start()
        self._processes[job_ids] = process

    def wait(self, timeout_s: float) -> list[Ended]:
        sentinels = {process.sentinel: job_ids for job_ids, process in self._processes.items()}
        ready = wait_for_sentinels(list(sentinels), timeout=timeout_s) if sentinels else []
        ended = []
        for sentinel in ready:
            job_ids = sentinels[sentinel]  # type: ignore[index]
            process = self._processes.pop(job_ids)
            self._device_of.pop(job_ids, None)
            process.join()
            ended.append(_local_outcome(job_ids, process))
        return ended

    def close(self) -> None:
        """Stop jobs still running (an interrupted sweep); their stale claims are taken over on rerun."""
        for process in self._processes.values():
            process.terminate()
        for process in self._processes.values():
            process.join()
        self._processes.clear()
        self._device_of.clear()


def _local_outcome(job_ids: tuple[str, ...], process: BaseProcess) -> Ended:
    code = process.exitcode
    for outcome, expected in EXIT_CODES.items():
        if code == expected:
            return Ended(job_ids, outcome)
    reason = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return Ended(job_ids, "crashed", f"worker process {process.pid} died ({reason})", pid=process.pid)


class RayLauncher:
    """Runs tasks (a job, or a pack) as Ray tasks, each asking for ``gpus_per_job`` GPUs (a fraction shares
    a GPU).

    ``address`` is an existing cluster (``ray start --head`` ... or ``auto``); when this process is already
    connected to Ray, that connection is used. The store must be on a file system every node sees.
    """

    def __init__(self, address: str | None = None, *, gpus_per_job: float | None = None,
                 cpus_per_job: float = 1.0, slots: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ChimeraMixError(
                "the ray launcher needs Ray; install it with `pip install chimeramix[ray]`"
            ) from None
        self._ray = ray
        if not ray.is_initialized():
            if address is None:
                raise ChimeraMixError("the ray launcher needs a cluster; pass --ray-address HOST:PORT")
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise ChimeraMixError(f"cannot connect to the Ray cluster at {address} ({error}); check "
                                      "--ray-address and that `ray status` works there") from None
        resources = ray.cluster_resources()
        cluster_gpus = float(resources.get("GPU", 0.0))
        if gpus_per_job is None:
            gpus_per_job = 1.0 if cluster_gpus > 0 else 0.0
        if gpus_per_job > 0 and cluster_gpus == 0:
            raise ChimeraMixError(
                f"--gpus-per-job {gpus_per_job} asks for GPUs but the cluster has none; use --gpus-per-job 0"
            )
        if slots is None:
            fits = [float(resources.get("CPU", 1.0)) / cpus_per_job] if cpus_per_job > 0 else []
            if gpus_per_job > 0:
                fits.append(cluster_gpus / gpus_per_job)
            slots = max(1, int(min(fits, default=1)))
        self.slots = slots
        self.threads = max(1, round(cpus_per_job))
        """Compute threads of each task: the CPUs it asks Ray for."""
        self._task = ray.remote(execute_jobs).options(num_gpus=gpus_per_job, num_cpus=cpus_per_job,
                                                     max_retries=0)
        self._refs: dict[Any, tuple[str, ...]] = {}
        """Running tasks' job ids by their Ray object reference."""

    def adopt(self, store_root: str, job_ids: set[str]) -> list[tuple[str, ...]]:
        return []

    def submit(self, store_root: str, jobs: tuple[Job, ...], job_fn: JobFunction, options: RunOptions) -> None:
        if options.threads is None:
            options = replace(options, threads=self.threads)
        self._refs[self._task.remote(store_root, jobs, job_fn, options)] = tuple(job.id for job in jobs)

    def wait(self, timeout_s: float) -> list[Ended]:
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout_s)
        if ready:
            ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        ended = []
        for ref in ready:
            job_ids = self._refs.pop(ref)
            try:
                ended.append(Ended(job_ids, self._ray.get(ref)))
            except Exception as error:  # a dead worker or an error outside the job: a crashed attempt
                detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                ended.append(Ended(job_ids, "crashed", f"ray task failed: {detail}"))
        return ended

    def close(self) -> None:
        """Cancel tasks still running (an interrupted sweep); their claims go stale and are taken over."""
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()
