"""Sweep execution with fake jobs: claims, retries, blocked jobs, killed workers, concurrent sweeps.

The fake job functions live here at module level so that spawned worker processes (and the sweep
subprocesses started with this folder on PYTHONPATH) can import them. Each appends a line per execution to
``STORE/ledger.txt``, which is how the tests count runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from chimeramix.cli.sweep import _report_text
from chimeramix.errors import DataError
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.launchers import LocalLauncher
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.runner import _exhausted, run_sweep
from chimeramix.experiments.spec import SweepSpec
from chimeramix.experiments.store import Store
from chimeramix.experiments.worker import LOG_PROGRESS_INTERVAL_S, RunOptions, _output_to, available_cores
from chimeramix.progress import FILE_INTERVAL_S, PROGRESS_INTERVAL_VARIABLE, progress_bar

TESTS = Path(__file__).resolve().parent
SLOW_STEPS = 20


def _ledger(run_dir: Path, job: Job, resume: bool, pack: int = 1) -> None:
    with open(run_dir.parent.parent / "ledger.txt", "a", encoding="utf-8") as handle:
        handle.write(f"{job.id} {int(resume)} {os.getpid()} {pack}\n")


def _finish(run_dir: Path, job: Job) -> None:
    result = {"config": job.config, "metrics": {"accuracy": 0.3 + 0.01 * job.config["data"]["seed"]}}
    tmp = run_dir / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(run_dir / "result.json")


def fake_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Record the execution, print to the (redirected) output, take a moment, write result.json."""
    for job, run_dir in zip(jobs, run_dirs):
        run_dir.mkdir(parents=True, exist_ok=True)
        _ledger(run_dir, job, resume, len(jobs))
        print(f"fake progress of {job.id}")
    time.sleep(0.3)
    for job, run_dir in zip(jobs, run_dirs):
        _finish(run_dir, job)


def logging_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Log an info line through the library's logger, as the trainers do once per epoch, then finish."""
    logging.getLogger("chimeramix.train.loop").info("epoch line of %s", jobs[0].id)
    fake_job(jobs, run_dirs, resume)


def failing_generator_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Generators always fail; classifiers succeed."""
    if jobs[0].kind == "generator":
        _ledger(run_dirs[0], jobs[0], resume)
        raise RuntimeError("generator exploded")
    fake_job(jobs, run_dirs, resume)


def data_error_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Every job fails on its data (as a folder with an unreadable file does)."""
    _ledger(run_dirs[0], jobs[0], resume)
    raise DataError("1 file(s) in photos cannot be read as images: a.jpg (truncated); remove or replace them")


def failing_pack_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Packs of several jobs fail; jobs alone succeed."""
    if len(jobs) > 1:
        for job, run_dir in zip(jobs, run_dirs):
            _ledger(run_dir, job, resume, len(jobs))
        raise RuntimeError("pack exploded")
    fake_job(jobs, run_dirs, resume)


def slow_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """SLOW_STEPS steps of 0.1 s with a checkpoint after each; resumes from the checkpoint."""
    job, run_dir = jobs[0], run_dirs[0]
    run_dir.mkdir(parents=True, exist_ok=True)
    _ledger(run_dir, job, resume)
    checkpoint = run_dir / "checkpoint.json"
    step = json.loads(checkpoint.read_text())["step"] if resume and checkpoint.exists() else 0
    (run_dir / "started").touch()
    while step < SLOW_STEPS:
        time.sleep(0.1)
        step += 1
        tmp = run_dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps({"step": step}))
        tmp.replace(checkpoint)
    _finish(run_dir, job)


def threads_job(jobs: Sequence[Job], run_dirs: Sequence[Path], resume: bool) -> None:
    """Record the thread settings the worker got (torch imported only now, as a trainer would)."""
    import torch

    for job, run_dir in zip(jobs, run_dirs):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "threads").write_text(f"{os.environ.get('OMP_NUM_THREADS')} {torch.get_num_threads()}")
        _finish(run_dir, job)


def tiny_jobs(methods: str = "baseline,chimeramix-grid", seeds: tuple[int, ...] = (0,)) -> list[Job]:
    return plan_sweep(SweepSpec(["cifar10"], methods.split(","), [5], list(seeds), preset="quick"))


def ledger(store: Path) -> list[list[str]]:
    path = store / "ledger.txt"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def sweep_subprocess(
    store: Path, job_fn: str, methods: str, seeds: str, workers: int
) -> subprocess.Popen[bytes]:
    """A separate Python process that runs a sweep with one of this module's fake job functions."""
    code = (
        f"import sys; from test_experiments_runner import *; from test_experiments_runner import {job_fn}\n"
        f"jobs = tiny_jobs({methods!r}, tuple(int(s) for s in {seeds!r}.split(',')))\n"
        f"report = run_sweep(Store.create({str(store)!r}), jobs, LocalLauncher({workers}), job_fn={job_fn}, "
        "progress=False, poll_s=0.2)\n"
        "sys.exit(0 if report.complete else 1)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)


def test_sweep_runs_dependencies_first_and_skips_finished_jobs(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs()
    report = run_sweep(store, jobs, LocalLauncher(2), job_fn=fake_job, progress=False, poll_s=0.1)
    assert report.complete and sorted(report.ran) == sorted(job.id for job in jobs)
    runs = ledger(store.root)
    order = [run[0] for run in runs]
    generator = next(job for job in jobs if job.kind == "generator")
    dependent = next(job for job in jobs if job.depends_on == generator.id)
    assert order.index(generator.id) < order.index(dependent.id)
    log = store.log_path(generator.id).read_text()
    assert "fake progress of" in log
    assert re.search(rf"=== {generator.id}: finished in [0-9.]+ s \(load average [0-9.]+, [0-9.]+, [0-9.]+\)", log)
    assert not list((store.root / "claims").glob("*.claim"))

    again = run_sweep(store, jobs, LocalLauncher(2), job_fn=fake_job, progress=False, poll_s=0.1)
    assert again.complete and again.ran == [] and len(ledger(store.root)) == len(jobs)


def test_failed_jobs_are_retried_then_reported_and_block_their_dependents(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs()
    report = run_sweep(store, jobs, LocalLauncher(1), job_fn=failing_generator_job, max_attempts=2,
                       progress=False, poll_s=0.1)
    generator = next(job for job in jobs if job.kind == "generator")
    dependent = next(job for job in jobs if job.depends_on == generator.id)
    assert list(report.failed) == [generator.id]
    assert [a["error"] for a in report.failed[generator.id]] == ["RuntimeError: generator exploded"] * 2
    assert report.blocked == {dependent.id: generator.id}
    assert "RuntimeError: generator exploded" in store.log_path(generator.id).read_text()
    assert [run[0] for run in ledger(store.root)].count(generator.id) == 2

    # a rerun does not retry a job that used up its attempts; a higher limit does
    run_sweep(store, jobs, LocalLauncher(1), job_fn=failing_generator_job, max_attempts=2, progress=False)
    assert [run[0] for run in ledger(store.root)].count(generator.id) == 2
    run_sweep(store, jobs, LocalLauncher(1), job_fn=failing_generator_job, max_attempts=3, progress=False)
    assert [run[0] for run in ledger(store.root)].count(generator.id) == 3


def test_a_data_error_is_not_retried_and_is_said_once_with_its_fix(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("baseline", seeds=(0, 1))
    report = run_sweep(store, jobs, LocalLauncher(1), job_fn=data_error_job, options=RunOptions(pack=2),
                       max_attempts=3, progress=False, poll_s=0.1)  # one worker runs both, as a pack
    assert sorted(report.failed) == sorted(job.id for job in jobs)
    assert len(ledger(store.root)) == 1  # one attempt, no retry
    text = _report_text(store, jobs, report, 3)
    assert text.count("FAILED") == 1 and "FAILED 2 jobs (" in text  # one line for the one problem
    assert "a problem with the data, not retried" in text and "--max-attempts" not in text
    attempts = store.failures(jobs[0].id)
    assert _exhausted(attempts, 3, since=attempts[0]["time"])  # in the sweep that had it
    assert not _exhausted(attempts, 3, since=attempts[0]["time"] + 1)  # a later sweep tries again


def _wait_for(path: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_killed_sweep_is_resumed_from_the_checkpoint_by_a_rerun(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    sweep = sweep_subprocess(store_dir, "slow_job", "baseline", "0", workers=1)
    job = tiny_jobs("baseline")[0]
    _wait_for(store_dir / "runs" / job.id / "started")
    time.sleep(0.5)
    os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its worker die mid-job, leaving their claim behind
    sweep.wait()
    store = Store.open(store_dir)
    assert store.claim_path(job.id).exists() and not store.is_finished(job.id)
    progress = json.loads((store.run_dir(job.id) / "checkpoint.json").read_text())["step"]
    assert 0 < progress < SLOW_STEPS

    report = run_sweep(store, [job], LocalLauncher(1), job_fn=slow_job, progress=False, poll_s=0.1)
    assert report.complete and report.ran == [job.id]
    assert [(run[0], run[1]) for run in ledger(store_dir)] == [(job.id, "0"), (job.id, "1")]
    assert store.failures(job.id) == []  # an interruption is not a failed attempt


def test_killed_worker_counts_as_a_failed_attempt_and_is_resumed(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    sweep = sweep_subprocess(store_dir, "slow_job", "baseline", "0", workers=1)
    job = tiny_jobs("baseline")[0]
    _wait_for(store_dir / "runs" / job.id / "started")
    worker_pid = json.loads((store_dir / "claims" / f"{job.id}.claim").read_text())["pid"]
    assert worker_pid != sweep.pid
    os.kill(worker_pid, signal.SIGKILL)
    assert sweep.wait(timeout=60) == 0  # the sweep notices, records the crash and resumes the job
    store = Store.open(store_dir)
    assert store.is_finished(job.id)
    assert [(run[0], run[1]) for run in ledger(store_dir)] == [(job.id, "0"), (job.id, "1")]
    assert len(store.failures(job.id)) == 1 and "killed by signal 9" in store.failures(job.id)[0]["error"]


def test_two_concurrent_sweeps_never_run_a_job_twice(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    Store.create(store_dir)
    methods, seeds = "baseline,chimeramix-grid,mixup", "0,1"
    sweeps = [sweep_subprocess(store_dir, "fake_job", methods, seeds, workers=2) for _ in range(2)]
    assert [sweep.wait(timeout=120) for sweep in sweeps] == [0, 0]
    jobs = tiny_jobs(methods, (0, 1))
    executed = [run[0] for run in ledger(store_dir)]
    assert sorted(executed) == sorted(job.id for job in jobs)
    store = Store.open(store_dir)
    assert all(store.is_finished(job.id) for job in jobs)
    assert len(store.load_plan()) == len(jobs)


def test_run_options_reach_the_job(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("chimeramix-grid")
    options = RunOptions(data_root=str(tmp_path / "data"), device="cpu", fast=True)
    run_sweep(store, jobs, LocalLauncher(1), job_fn=fake_job, options=options, progress=False, poll_s=0.1)
    classifier = next(job for job in jobs if job.kind == "classifier")
    config = store.result(classifier.id)["config"]
    assert config["device"] == "cpu" and config["data"]["data_root"] == str(tmp_path / "data")
    assert config["fast"] is True and store.load_plan()[classifier.id].config["fast"] is False
    assert config["generator"] == str(store.run_dir(classifier.depends_on or ""))
    assert store.load_plan()[classifier.id].config["generator"] is None  # the plan stays machine-independent


def test_local_launcher_spreads_jobs_over_devices(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("baseline", seeds=(0, 1, 2, 3))
    launcher = LocalLauncher(2, ["cuda:0", "cuda:1"])
    run_sweep(store, jobs, launcher, job_fn=fake_job, options=RunOptions(device="cpu"), progress=False, poll_s=0.1)
    devices = sorted(store.result(job.id)["config"]["device"] for job in jobs)
    assert devices == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]  # the fake job never touches a device


@pytest.mark.parametrize("workers", [0, -1])
def test_local_launcher_needs_a_worker(workers: int) -> None:
    from chimeramix.errors import ChimeraMixError

    with pytest.raises(ChimeraMixError, match="--workers"):
        LocalLauncher(workers)


def test_packs_join_the_splits_of_a_cell(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("baseline,chimeramix-grid", seeds=(0, 1, 2))
    report = run_sweep(store, jobs, LocalLauncher(1), job_fn=fake_job, options=RunOptions(pack=2),
                       progress=False, poll_s=0.1)
    assert report.complete and sorted(report.ran) == sorted(job.id for job in jobs)
    kinds = {job.id: (job.kind, job.config.get("method"), job.config["data"]["seed"]) for job in jobs}
    runs = [(kinds[job_id], int(pack)) for job_id, _, _, pack in ledger(store.root)]
    methods = ("baseline", "chimeramix-grid")
    assert sorted(runs, key=str) == sorted([(("generator", None, seed), 2 if seed < 2 else 1) for seed in (0, 1, 2)]
                                           + [(("classifier", method, seed), 2)  # methods of one batch form
                                              for method in methods for seed in (0, 1, 2)], key=str)


def test_generators_may_have_their_own_pack_size(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("chimeramix-grid", seeds=(0, 1))
    options = RunOptions(pack=2, generator_pack=1)
    assert run_sweep(store, jobs, LocalLauncher(2), job_fn=fake_job, options=options, progress=False,
                     poll_s=0.1).complete
    kinds = {job.id: job.kind for job in jobs}
    assert sorted((kinds[job_id], int(pack)) for job_id, _, _, pack in ledger(store.root)) == [
        ("classifier", 2), ("classifier", 2), ("generator", 1), ("generator", 1)]


def test_a_failed_pack_is_retried_job_by_job_and_a_pack_waits_for_its_generators(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "store")
    jobs = tiny_jobs("chimeramix-grid", seeds=(0, 1))
    report = run_sweep(store, jobs, LocalLauncher(1), job_fn=failing_pack_job, options=RunOptions(pack=2),
                       max_attempts=2, progress=False, poll_s=0.1)
    assert report.complete
    kinds = {job.id: job.kind for job in jobs}
    runs = [(kinds[job_id], int(pack)) for job_id, _, _, pack in ledger(store.root)]
    # the generator pack fails, its generators finish one by one, and only then does the classifier pack start
    assert runs == [("generator", 2), ("generator", 2), ("generator", 1), ("generator", 1),
                    ("classifier", 2), ("classifier", 2), ("classifier", 1), ("classifier", 1)]
    for job in jobs:
        assert [failure["error"] for failure in store.failures(job.id)] == ["RuntimeError: pack exploded"]
    logs = [store.log_path(job.id).read_text() for job in jobs]
    assert sum("pack of 2" in log for log in logs) == 2 and sum("in a pack; output in" in log for log in logs) == 2


def test_progress_bars_in_a_worker_log_update_every_30_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interval() -> float:
        bar = progress_bar("steps", 10)
        bar.close()
        return float(bar.mininterval)

    monkeypatch.setenv(PROGRESS_INTERVAL_VARIABLE, "0.5")
    assert interval() == 0.5
    monkeypatch.delenv(PROGRESS_INTERVAL_VARIABLE)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert interval() == 0.1  # on a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert interval() == FILE_INTERVAL_S == 30  # in a file or a pipe: one line every 30 s
    with _output_to(tmp_path / "job.log"):  # what a sweep worker runs its job in
        assert interval() == LOG_PROGRESS_INTERVAL_S == 30


def test_a_worker_log_holds_the_library_lines(tmp_path: Path) -> None:
    """The trainers' info lines (epochs, SuperMix's pool) reach the job's log from a spawned worker (they were
    lost: a worker's logging had no handler), and the logger is restored after the job."""
    store = Store.create(tmp_path / "store")
    jobs = [job for job in tiny_jobs("baseline") if job.kind == "classifier"]
    assert run_sweep(store, jobs, LocalLauncher(1), job_fn=logging_job, progress=False, poll_s=0.1).complete
    assert f"epoch line of {jobs[0].id}" in store.log_path(jobs[0].id).read_text()
    logger = logging.getLogger("chimeramix")
    before = logger.handlers[:], logger.level, logger.propagate
    with _output_to(tmp_path / "job.log"):
        logging.getLogger("chimeramix.train.loop").info("in process")
    assert (logger.handlers, logger.level, logger.propagate) == before
    assert "in process" in (tmp_path / "job.log").read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_share_the_cores(tmp_path: Path, workers: int) -> None:
    store = Store.create(tmp_path / "store")
    jobs = [job for job in tiny_jobs("baseline", (0, 1)) if job.kind == "classifier"]
    assert run_sweep(store, jobs, LocalLauncher(workers), job_fn=threads_job, progress=False, poll_s=0.1).complete
    share = max(1, available_cores() // workers)
    for job in jobs:
        assert (store.run_dir(job.id) / "threads").read_text() == f"{share} {share}"


def test_a_killed_sweep_takes_its_workers_with_it(tmp_path: Path) -> None:
    """kill -9 of the sweep process alone (not its group): the kernel ends its worker too, and a rerun takes
    the dead claim over at once."""
    store_dir = tmp_path / "store"
    sweep = sweep_subprocess(store_dir, "slow_job", "baseline", "0", workers=1)
    job = tiny_jobs("baseline")[0]
    _wait_for(store_dir / "runs" / job.id / "started")
    worker_pid = json.loads((store_dir / "claims" / f"{job.id}.claim").read_text())["pid"]
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait(timeout=30)
    deadline = time.monotonic() + 15
    while _alive(worker_pid):
        assert time.monotonic() < deadline, "the worker outlived its sweep"
        time.sleep(0.1)
    started = time.monotonic()
    report = run_sweep(Store.open(store_dir), [job], LocalLauncher(1), job_fn=slow_job, progress=False, poll_s=0.1)
    assert report.complete and report.ran == [job.id]
    assert time.monotonic() - started < 30  # no wait for the dead claim to go stale (90 s)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").is_file() or "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def test_a_sweep_says_whose_claim_it_waits_for(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store.create(tmp_path / "store")
    job = next(job for job in tiny_jobs("baseline") if job.kind == "classifier")
    store.merge_plan([job])
    claim = store.claim(job.id, heartbeat_s=3600)  # held by this (live) process, no heartbeat from now on
    assert claim is not None
    with caplog.at_level("INFO", logger="chimeramix.sweep"):
        report = run_sweep(store, [job], LocalLauncher(1), job_fn=fake_job, progress=False, poll_s=0.2,
                           options=RunOptions(stale_after_s=2.0))
    assert report.complete  # taken over once the heartbeat was 2 s old
    waiting = [record.getMessage() for record in caplog.records if record.getMessage().startswith("waiting for")]
    assert waiting == [f"waiting for {job.id}: claimed by pid {os.getpid()} on {socket.gethostname()} (another "
                       "sweep), last heartbeat 0 s ago; taken over if none comes for 2 s"]
