"""The results store: a folder that is the only source of truth of a sweep.

Layout::

    STORE/store.json              format marker ({"format": 1})
    STORE/plan.json               every job ever planned into this store (id -> job)
    STORE/runs/<job-id>/          the run directory; the job is finished iff result.json exists in it
    STORE/claims/<job-id>.claim   who runs the job now (pid, host, time; mtime = heartbeat)
    STORE/failures/<job-id>.json  failed attempts (error, time, host)
    STORE/logs/<job-id>.log       the job's own output, all attempts appended
    STORE/slurm/                  the SLURM launcher's batch jobs (``chimeramix.experiments.slurm``)

Every JSON file is written atomically (``chimeramix.fileio``). Read-modify-write updates of shared files
(plan, failures, claims) happen under a per-file ``filelock``, so several sweeps can share one store.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from chimeramix.config import from_dict, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.jobs import Job
from chimeramix.fileio import read_json, write_json
from chimeramix.rundir import RunFolder
from chimeramix.runkinds import run_kind

STORE_FORMAT = 1
"""Version of the store layout and of the result files in it; bump on incompatible changes."""

DEFAULT_STALE_AFTER_S = 600.0
"""A claim whose heartbeat is older than this is taken over (the claimer is presumed dead)."""

DEFAULT_HEARTBEAT_S = 30.0


class Store:
    """A results store at ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    # --------------------------------------------------------------------------------------------- opening

    @classmethod
    def create(cls, root: str | os.PathLike[str]) -> Store:
        """Open the store at ``root``, creating it when the folder is missing or empty."""
        store = cls(root)
        if store.root.exists() and not store.root.is_dir():
            raise ChimeraMixError(f"store path {store.root} is a file; pass a folder to --store")
        if not store.root.exists() or not any(store.root.iterdir()):
            store.root.mkdir(parents=True, exist_ok=True)
            write_json(store.root / "store.json", {"format": STORE_FORMAT})
        store.check()
        return store

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Store:
        """Open an existing store; errors for a missing, empty, foreign or incompatible folder."""
        store = cls(root)
        if not store.root.is_dir() or not any(store.root.iterdir()):
            raise ChimeraMixError(
                f"{store.root} is not a results store (missing or empty); run `chimeramix sweep --store "
                f"{store.root} ...` first"
            )
        store.check()
        return store

    def check(self) -> None:
        """Raise unless ``store.json`` marks this folder as a store of this format."""
        marker = self.root / "store.json"
        if not marker.is_file():
            raise ChimeraMixError(
                f"{self.root} is not empty and has no store.json, so it is not a chimeramix results store; "
                "pass an empty or new folder to --store"
            )
        try:
            version = read_json(marker).get("format")
        except (OSError, ValueError, AttributeError):
            version = None
        if version != STORE_FORMAT:
            raise ChimeraMixError(
                f"store {self.root} has format {version!r} but this chimeramix reads format {STORE_FORMAT}; "
                "use a chimeramix version that matches the store, or a new store"
            )

    # ----------------------------------------------------------------------------------------------- paths

    def run_dir(self, job_id: str) -> Path:
        return self.root / "runs" / job_id

    def result_path(self, job_id: str) -> Path:
        return RunFolder(self.run_dir(job_id)).result_file

    def log_path(self, job_id: str) -> Path:
        return self.root / "logs" / f"{job_id}.log"

    def claim_path(self, job_id: str) -> Path:
        return self.root / "claims" / f"{job_id}.claim"

    def failures_path(self, job_id: str) -> Path:
        return self.root / "failures" / f"{job_id}.json"

    def lock(self, path: Path) -> FileLock:
        """The file lock that guards read-modify-write updates of ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path) + ".lock")

    # ------------------------------------------------------------------------------------------------ plan

    def merge_plan(self, jobs: list[Job]) -> None:
        """Add ``jobs`` to ``plan.json``; a known id must have the same definition."""
        path = self.root / "plan.json"
        with self.lock(path):
            plan = self.load_plan()
            for job in jobs:
                known = plan.get(job.id)
                if known is not None and _definition(known) != _definition(job):
                    raise ChimeraMixError(
                        f"job {job.id} is already in store {self.root} with a different definition (another "
                        "chimeramix version or config defaults); use a new store for this sweep"
                    )
                plan[job.id] = job
            write_json(path, {"format": STORE_FORMAT, "jobs": [job.to_dict() for job in plan.values()]})

    def load_plan(self) -> dict[str, Job]:
        """Every job planned into this store, by id (empty when nothing was planned yet)."""
        path = self.root / "plan.json"
        if not path.exists():
            return {}
        data = read_json(path)
        if data.get("format") != STORE_FORMAT:
            raise ChimeraMixError(
                f"{path} has format {data.get('format')!r}, not {STORE_FORMAT}; use a new store"
            )
        return {values["id"]: Job.from_dict(values) for values in data["jobs"]}

    # --------------------------------------------------------------------------------------------- results

    def is_finished(self, job_id: str) -> bool:
        return self.result_path(job_id).is_file()

    def result(self, job_id: str) -> dict[str, Any]:
        """The result.json of a finished job."""
        path = self.result_path(job_id)
        try:
            data = read_json(path)
        except ValueError:
            raise ChimeraMixError(
                f"result {path} is not valid JSON; delete its run folder and rerun the sweep"
            ) from None
        if not isinstance(data, dict):
            raise ChimeraMixError(f"result {path} is not a JSON object; delete its run folder and rerun")
        return data

    # -------------------------------------------------------------------------------------------- failures

    def failures(self, job_id: str) -> list[dict[str, Any]]:
        """Failed attempts of a job, oldest first."""
        path = self.failures_path(job_id)
        if not path.exists():
            return []
        attempts: list[dict[str, Any]] = read_json(path)["attempts"]
        return attempts

    def record_failure(self, job_id: str, error: str, *, retry: bool = True) -> None:
        """Append one failed attempt (``error`` is a one-line description; ``retry``: whether trying again can
        help, i.e. not a problem with the data)."""
        path = self.failures_path(job_id)
        with self.lock(path):
            attempts = self.failures(job_id)
            attempts.append({"error": error, "time": time.time(), "host": socket.gethostname(), "retry": retry})
            write_json(path, {"attempts": attempts})

    # ---------------------------------------------------------------------------------------------- claims

    def claim(self, job_id: str, *, stale_after_s: float = DEFAULT_STALE_AFTER_S,
              heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> Claim | None:
        """Claim a job for this process, taking over a stale claim; ``None`` when someone else holds it.

        The claim file is created with ``O_CREAT | O_EXCL`` under the job's file lock, so exactly one of
        several racing processes gets it. The returned claim beats its heartbeat until released.
        """
        path = self.claim_path(job_id)
        with self.lock(path):
            if path.exists():
                holder = read_claim(path)
                if holder is not None and not holder.is_stale(stale_after_s):
                    return None
                path.unlink()
            token = uuid.uuid4().hex
            info = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(), "token": token}
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as handle:
                json.dump(info, handle)
                handle.flush()
                os.fsync(handle.fileno())
        claim = Claim(self, job_id, token)
        claim.start_heartbeat(heartbeat_s)
        return claim

    def live_claim(self, job_id: str, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> ClaimInfo | None:
        """The holder of a job's claim if it is alive (not stale), else ``None``."""
        path = self.claim_path(job_id)
        if not path.exists():
            return None
        holder = read_claim(path)
        if holder is None or holder.is_stale(stale_after_s):
            return None
        return holder

    def clear_claim_of(self, job_id: str, pid: int, host: str | None = None) -> None:
        """Remove a job's claim if process ``pid`` on ``host`` (default: this host) holds it (after that process
        died)."""
        path = self.claim_path(job_id)
        with self.lock(path):
            holder = read_claim(path) if path.exists() else None
            if holder is not None and holder.pid == pid and holder.host == (host or socket.gethostname()):
                path.unlink()


def _definition(job: Job) -> dict[str, Any]:
    """What must match for a job id to be the same job: all but the pool's size for estimates (plans written
    before it existed lack it)."""
    values = _with_defaults(job).to_dict()
    values.pop("pool_mixes")
    return values


def _with_defaults(job: Job) -> Job:
    """The job with the defaults of config fields its config lacks (a plan written before they existed)."""
    cls = run_kind(job.kind).config
    return replace(job, config=json.loads(json.dumps(to_dict(from_dict(cls, job.config)))))


@dataclass(frozen=True)
class ClaimInfo:
    """What a claim file says about its holder; ``heartbeat`` is the file's modification time."""

    pid: int
    host: str
    time: float
    token: str
    heartbeat: float

    def is_stale(self, stale_after_s: float) -> bool:
        """Dead process on this host, or no heartbeat for ``stale_after_s`` seconds."""
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return True
        return time.time() - self.heartbeat > stale_after_s


def read_claim(path: Path) -> ClaimInfo | None:
    """Parse a claim file; ``None`` if it vanished or is unreadable (its writer died mid-write)."""
    try:
        heartbeat = path.stat().st_mtime
        values = json.loads(path.read_text(encoding="utf-8"))
        return ClaimInfo(pid=int(values["pid"]), host=str(values["host"]), time=float(values["time"]),
                         token=str(values["token"]), heartbeat=heartbeat)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claim:
    """A held claim: beats a heartbeat (touches the claim file) in a thread until :meth:`release`."""

    def __init__(self, store: Store, job_id: str, token: str) -> None:
        self.store = store
        self.job_id = job_id
        self.token = token
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_heartbeat(self, interval_s: float) -> None:
        self._thread = threading.Thread(target=self._beat, args=(interval_s,), daemon=True,
                                        name=f"heartbeat-{self.job_id}")
        self._thread.start()

    def _beat(self, interval_s: float) -> None:
        path = self.store.claim_path(self.job_id)
        while not self._stop.wait(interval_s):
            with self.store.lock(path):
                holder = read_claim(path)
                if holder is None or holder.token != self.token:
                    return  # taken over: someone judged us dead; never touch their claim
                os.utime(path)

    def release(self) -> None:
        """Stop the heartbeat and delete the claim file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        path = self.store.claim_path(self.job_id)
        with self.store.lock(path):
            holder = read_claim(path)
            if holder is not None and holder.token == self.token:
                path.unlink()
