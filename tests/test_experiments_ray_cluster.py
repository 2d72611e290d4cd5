"""A sweep on a real external Ray cluster: a head started with ``ray start --head`` on 127.0.0.1 and a second
node joining it, both separate processes (not an in-process instance). One node is killed while it runs a job;
the sweep must still finish every job, with nothing lost or run to completion twice.

The cluster detects the dead node within seconds because its health checks are made fast (environment of the
``ray start`` processes); everything else is Ray's default, token authentication included: every process of
the cluster and the sweep (the driver) gets the token through ``RAY_AUTH_TOKEN``. The store is a folder both
nodes see, as a real cluster needs (a shared filesystem).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chimeramix.experiments.store import Store, read_claim

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

RAY = Path(sys.executable).with_name("ray")
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
                      "RAY_health_check_failure_threshold": "3", "RAY_USAGE_STATS_ENABLED": "0"}
NODE = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0", "--object-store-memory=100000000",
        "--disable-usage-stats"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive_nodes(address: str, env: dict[str, str]) -> int:
    status = subprocess.run([str(RAY), "status", f"--address={address}"], capture_output=True, text=True,
                            timeout=60, check=False, env=env)
    active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return len(re.findall(r"^\s*\d+ node_", active, flags=re.MULTILINE))


def wait_for(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], dict[str, str]]]:
    """A head node and a worker node on 127.0.0.1, one CPU each: the address, the worker node's
    ``ray start --block`` process (its own process group, to be killed) and the environment that reaches them."""
    if not RAY.is_file():
        pytest.skip(f"the ray command is not installed next to {sys.executable} (pip install 'chimeramix[ray]')")
    env = {**os.environ, **FAST_HEALTH_CHECKS, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    address = f"127.0.0.1:{free_port()}"
    head = subprocess.run([str(RAY), "start", "--head", f"--port={address.split(':')[1]}",
                           "--include-dashboard=false", *NODE], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert head.returncode == 0, head.stdout + head.stderr
    log = open(tmp_path / "worker-node.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen([str(RAY), "start", f"--address={address}", "--block", *NODE], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: alive_nodes(address, env) == 2, 180, "the second node to join")
        yield address, worker, env
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=60)
        log.close()
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120, check=False, env=env)


def live_claims(store: Store) -> dict[str, int]:
    """Job id -> pid of the claims whose process is alive."""
    claims = {}
    for path in (store.root / "claims").glob("*.claim"):
        claim = read_claim(path)
        if claim is not None and not claim.is_stale(3600):
            claims[path.name.removesuffix(".claim")] = claim.pid
    return claims


def test_a_sweep_survives_losing_a_node(cluster: tuple[str, subprocess.Popen[bytes], dict[str, str]],
                                       tiny_data_root: Path, tmp_path: Path) -> None:
    address, worker_node, env = cluster
    store_root = tmp_path / "store"
    command = [sys.executable, "-m", "chimeramix", "sweep", "--launcher", "ray", "--ray-address", address,
               "--cpus-per-job", "1", "--datasets", "cifar10", "--methods", "baseline", "--k", "2",
               "--seeds", "0-3", "--preset", "quick", "--data-root", str(tiny_data_root), "--device", "cpu",
               "--classifier-set", "architecture=wrn-10-1", "--classifier-set", "epochs=25",
               "--classifier-set", "batch_size=8", "--store", str(store_root), "--no-progress"]
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_for(lambda: store_root.is_dir() and len(live_claims(Store(store_root))) == 2, 180,
                 "a job running on each node")
        before = live_claims(Store(store_root))
        os.killpg(worker_node.pid, signal.SIGKILL)  # the second node and every process of it
        worker_node.wait(timeout=60)
        output, _ = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, output
    store = Store.open(store_root)
    plan = store.load_plan()
    assert len(plan) == 4 and all(store.is_finished(job_id) for job_id in plan), output
    failed = {job_id: store.failures(job_id) for job_id in plan if store.failures(job_id)}
    assert len(failed) == 1 and set(failed) <= set(before), (failed, before)  # the job of the lost node
    (lost,) = failed
    assert len(failed[lost]) == 1 and "ray task failed" in failed[lost][0]["error"]
    for job_id in plan:  # one attempt each, two for the lost job; one complete log and result each
        attempts = store.log_path(job_id).read_text().count(f"=== {job_id}: attempt")
        assert attempts == (2 if job_id == lost else 1), job_id
        result = json.loads(store.result_path(job_id).read_text())
        assert [row["epoch"] for row in result["log"]] == list(range(1, 26))
    table = subprocess.run([sys.executable, "-m", "chimeramix", "table", "--store", str(store_root)],
                           capture_output=True, text=True, check=True)
    assert "(n=4)" in table.stdout
