"""A sweep through a real SLURM cluster: munged, slurmctld and slurmd on 127.0.0.1 (one node of 2 CPUs), run from a
private configuration in a temporary folder (``SLURM_CONF``) and stopped at the end.

Debian's packages (slurmctld, slurmd, slurm-client, munge) are installed with apt-get when they are missing; the
test is skipped, saying why, where that cannot be done (not Linux, not root, no apt-get, the install fails).

The sweep (a generator and 3 classifiers, one of them after the generator; real training on fabricated 8 px
data; each job one batch job of 1 CPU) loses two running batch jobs: one
cancelled with ``scancel`` (SIGTERM: the job records its failed attempt and resumes from its checkpoint when
retried), one killed with SIGKILL (``scancel --batch --signal=KILL``: the launcher that sees it leave the queue
records the attempt). Then the submitting process itself is killed with SIGKILL, and a rerun of the same command
follows the batch jobs it left in SLURM's queue. Every job must finish, each lost job after exactly one failed
attempt, and nothing runs or is submitted twice.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chimeramix.experiments.store import Store, read_claim

pytestmark = pytest.mark.slurm

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
DAEMONS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"]
SBIN_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"

SLURM_CONF = """\
ClusterName=chimeramix-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={controller_port}
SlurmdPort={node_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={base}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
"""One node of 2 CPUs on loopback, no accounting database; SIGKILL 5 s after SIGTERM (KillWait)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def install_slurm() -> None:
    """Install Debian's SLURM and munge packages when a command is missing; skip (saying why) where that cannot be
    done."""
    if not sys.platform.startswith("linux"):
        pytest.skip("a SLURM cluster runs on Linux only")
    if os.geteuid() != 0:
        pytest.skip("starting slurmd needs root (and installing SLURM: apt-get install slurmctld slurmd "
                    "slurm-client munge)")
    if all(shutil.which(name, path=SBIN_PATH) for name in DAEMONS):
        return
    if shutil.which("apt-get") is None:
        pytest.skip(f"SLURM is not installed and there is no apt-get to install it ({' '.join(PACKAGES)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:  # stale or missing package lists: update them once
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env, timeout=600, check=False)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
    missing = [name for name in DAEMONS if not shutil.which(name, path=SBIN_PATH)]
    if done.returncode != 0 or missing:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        pytest.skip(f"cannot install SLURM with apt-get ({tail}; missing: {' '.join(missing) or 'none'})")


@pytest.fixture
def slurm_cluster() -> Iterator[dict[str, str]]:
    """A one-node SLURM cluster on 127.0.0.1; yields the environment (``SLURM_CONF``) its commands need."""
    install_slurm()
    base = Path(tempfile.mkdtemp(prefix="chimeramix-slurm-"))
    base.chmod(0o755)  # munged wants its socket's folder searchable by all
    for folder in ("state", "spool"):
        (base / folder).mkdir()
    (base / "munge.key").write_bytes(os.urandom(128))
    (base / "munge.key").chmod(0o600)
    host = socket.gethostname().split(".")[0]
    conf = base / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, base=base, controller_port=free_port(), node_port=free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": SBIN_PATH}
    commands = {
        "munged": ["munged", "--foreground", f"--socket={base}/munge.socket", f"--key-file={base}/munge.key",
                   f"--pid-file={base}/munged.pid", f"--seed-file={base}/munged.seed",
                   f"--log-file={base}/munged.log"],
        "slurmctld": ["slurmctld", "-D", "-f", str(conf)],
        "slurmd": ["slurmd", "-D", "-f", str(conf), "-N", host],
    }
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            with open(base / f"{name}.out", "wb") as out:
                daemons.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True))
            if name == "munged":
                wait_for(lambda: (base / "munge.socket").exists(), 60, "munged's socket")
        wait_for(lambda: _run(["sinfo", "--noheader", "--format=%T"], env).stdout.strip() == "idle", 120,
                 f"the node to be idle (logs in {base})")
        yield env
    finally:
        _run(["scancel", "--me"], env)
        deadline = time.monotonic() + 60
        while queued(env) and time.monotonic() < deadline:  # the node's processes end before the daemons do
            time.sleep(1)
        for daemon in reversed(daemons):  # slurmd, slurmctld, munged
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def queued(env: dict[str, str]) -> set[str]:
    """Ids of the batch jobs in SLURM's queue (pending or running)."""
    return set(_run(["squeue", "--me", "--noheader", "--format=%i"], env).stdout.split())


def tasks(store_root: Path) -> dict[str, dict[str, Any]]:
    """The submitted task files of a store by SLURM id: their job ids and their status."""
    found = {}
    for path in (store_root / "slurm").glob("*.task.json"):
        task = json.loads(path.read_text())
        status_path = path.with_name(path.name.removesuffix(".task.json") + ".status.json")
        status = json.loads(status_path.read_text()) if status_path.is_file() else {}
        if "slurm_job" in task:
            found[task["slurm_job"]] = {"jobs": [job["id"] for job in task["jobs"]], **status}
    return found


def running(store: Store) -> dict[str, str]:
    """Jobs whose claim is held by a live process and whose log has its attempt line -> their SLURM batch job."""
    batch_of = {}
    for slurm_job, task in tasks(store.root).items():
        if "pid" in task and "outcome" not in task:
            batch_of.update((job_id, slurm_job) for job_id in task["jobs"])
    found = {}
    for job_id, slurm_job in batch_of.items():
        claim = read_claim(store.claim_path(job_id))
        log = store.log_path(job_id)
        if claim is not None and not claim.is_stale(3600) and log.is_file() and "attempt" in log.read_text():
            found[job_id] = slurm_job
    return found


@pytest.mark.timeout(3600)  # apt-get and a busy machine; on an idle one the whole test takes a few minutes
def test_a_sweep_on_slurm_survives_cancelled_jobs_and_its_own_death(
        slurm_cluster: dict[str, str], tiny_data_root: Path, tmp_path: Path) -> None:
    env = slurm_cluster
    store_root = tmp_path / "store"
    command = [sys.executable, "-m", "chimeramix", "sweep", "--launcher", "slurm", "--cpus-per-job", "1",
               "--datasets", "cifar10", "--methods", "baseline,mixup,chimeramix-grid", "--k", "2", "--seeds", "0",
               "--preset", "quick", "--data-root", str(tiny_data_root), "--device", "cpu", "--store", str(store_root),
               "--no-progress", "--generator-set", "epochs=1", "--generator-set", "repetition=1",
               "--generator-set", "base_channels=8", "--generator-set", "working_size=32",
               "--classifier-set", "architecture=wrn-10-1", "--classifier-set", "allow_mismatch=true",
               "--classifier-set", "epochs=20", "--classifier-set", "repetition=30",
               "--classifier-set", "checkpoint_every=1"]
    started = time.monotonic()
    with open(tmp_path / "first-sweep.out", "w+") as first_output:
        first = subprocess.Popen(command, stdout=first_output, stderr=subprocess.STDOUT, env=env)
        try:
            store = Store(store_root)

            def checkpointed_classifier() -> str | None:
                return next((job_id for job_id in running(store) if job_id.startswith("cls-")
                             and (store.run_dir(job_id) / "checkpoints" / "latest").is_file()), None)

            wait_for(checkpointed_classifier, 1800, "a classifier running with a checkpoint")
            cancelled = checkpointed_classifier()
            assert cancelled is not None
            _run(["scancel", running(store)[cancelled]], env).check_returncode()
            wait_for(lambda: sum(cancelled in task["jobs"] for task in tasks(store_root).values()) == 2, 600,
                     "the cancelled job's retry to be submitted")

            def another_running() -> tuple[str, str] | None:
                submitted = {job_id for task in tasks(store_root).values() for job_id in task["jobs"]}
                others = sorted((job_id, batch) for job_id, batch in running(store).items() if job_id != cancelled)
                if submitted == set(store.load_plan()) and others and len(queued(env)) >= 2:
                    return others[0]
                return None

            wait_for(another_running, 1800, "every job submitted, another one running and one more in the queue")
            found = another_running()
            assert found is not None
            killed, killed_batch = found
            _run(["scancel", "--batch", "--signal=KILL", killed_batch], env).check_returncode()
            first.kill()  # the submitting process dies too, at once
            first.wait(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
        left_in_queue = queued(env)
        first_output.seek(0)
        first_text = first_output.read()
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    wall_s = time.monotonic() - started
    output = first_text + second.stdout + second.stderr
    assert second.returncode == 0, output
    assert "4 of 4 jobs finished" in second.stdout, output
    assert left_in_queue and "following" in second.stderr, (left_in_queue, output)

    plan = store.load_plan()
    assert len(plan) == 4 and all(store.is_finished(job_id) for job_id in plan)
    failures = {job_id: store.failures(job_id) for job_id in plan if store.failures(job_id)}
    assert set(failures) == {cancelled, killed}, failures
    assert len(failures[cancelled]) == 1 and "StoppedBySlurm" in failures[cancelled][0]["error"]
    assert len(failures[killed]) == 1 and "without an outcome" in failures[killed][0]["error"]

    submitted = tasks(store_root)
    outcomes = sorted(str(task.get("outcome")) for task in submitted.values())
    assert outcomes == ["done"] * 4 + ["failed"] * 2, submitted  # nothing submitted twice, every batch job settled
    assert left_in_queue <= set(submitted)  # the rerun followed what the killed sweep had queued
    wait_for(lambda: not queued(env), 300, "the last batch jobs to leave the queue")  # after their outcome
    for job_id in plan:  # one attempt each, two for the lost jobs; the cancelled one resumed its checkpoint
        log = store.log_path(job_id).read_text()
        assert log.count(f"=== {job_id}: attempt") == (2 if job_id in failures else 1), log
        assert log.count(f"=== {job_id}: finished in") == 1, log
        if job_id == cancelled:
            assert log.rsplit(f"=== {job_id}: attempt", 1)[1].split("\n", 1)[0].endswith("resume=True"), log
        result = store.result(job_id)
        if job_id.startswith("cls-"):
            assert [row["epoch"] for row in result["log"]] == list(range(1, 21))
    table = subprocess.run([sys.executable, "-m", "chimeramix", "table", "--store", str(store_root)],
                           capture_output=True, text=True, check=True)
    assert table.stdout.count("(n=1)") == 3, table.stdout
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nslurm sweep: {len(plan)} jobs in {len(submitted)} batch jobs, {wall_s:.0f} s (load average {load}); "
          f"scancel: {cancelled} ({failures[cancelled][0]['error']}); SIGKILL: {killed} "
          f"({failures[killed][0]['error']}); both retried; batch jobs {sorted(left_in_queue)} left in the queue by "
          "the killed sweep, followed by its rerun")
