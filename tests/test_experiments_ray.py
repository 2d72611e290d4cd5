"""The Ray launcher on a real local Ray instance (loopback only), racing a local sweep on the same store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.launchers import RayLauncher
from chimeramix.experiments.runner import run_sweep
from chimeramix.experiments.store import Store
from test_experiments_runner import TESTS, fake_job, ledger, sweep_subprocess, tiny_jobs

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A fresh single-node Ray instance on 127.0.0.1 with 2 CPUs and no GPU, shut down afterwards."""
    pythonpath = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath}}, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_sweep_shares_the_store_with_a_local_sweep(local_ray: None, tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    methods, seeds = "baseline,chimeramix-grid,mixup", "0,1"
    jobs = tiny_jobs(methods, (0, 1))
    local = sweep_subprocess(store.root, "fake_job", methods, seeds, workers=1)
    launcher = RayLauncher(gpus_per_job=None, cpus_per_job=1)
    assert launcher.slots == 2
    report = run_sweep(store, jobs, launcher, job_fn=fake_job, progress=False, poll_s=0.2)
    assert local.wait(timeout=120) == 0
    assert report.complete and report.ran  # the ray sweep ran some jobs itself
    assert all(store.is_finished(job.id) for job in jobs)
    executed = [run[0] for run in ledger(store.root)]
    assert sorted(executed) == sorted(job.id for job in jobs)  # every job exactly once, by one of the two
    assert "fake progress of" in store.log_path(jobs[0].id).read_text()


def test_ray_launcher_refuses_gpus_on_a_cpu_cluster(local_ray: None) -> None:
    with pytest.raises(ChimeraMixError, match="--gpus-per-job 0"):
        RayLauncher(gpus_per_job=0.25)
