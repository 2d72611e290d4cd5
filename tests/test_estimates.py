"""Time estimates: measured costs of this machine (cached after every run) with start-up, data loading and
evaluation included; the question before a CPU run of hours; reused runs and --no-progress lines."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import main
from chimeramix.cli.common import check_estimate
from chimeramix.config import ClassifierConfig, DataConfig, from_dict, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.costs import (
    DEFAULT_STEP_SECONDS,
    HISTORY_SIZE,
    CostBook,
    RunCost,
    default_step_seconds,
    load_costs,
    machine,
    median_cost,
    pool_mix_key,
    record_cost,
)
from chimeramix.experiments.estimates import estimate_cost, remaining
from chimeramix.experiments.jobs import run_job
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec
from chimeramix.experiments.store import Store
from chimeramix.fileio import write_json
from chimeramix.methods.supermix.settings import SuperMixConfig
from chimeramix.runkinds import run_kind
from chimeramix.runtime import choose_precision
from chimeramix.train import run as run_module
from conftest import CheckpointStop, Interrupt

pytestmark = pytest.mark.usefixtures("one_thread")

PRECISION = choose_precision(torch.device("cpu"), amp=True)
"""This CPU's precision, which cost keys name: bf16 where it is native, else fp32."""

TINY = ["--dataset", "cifar10", "--k", "2", "--preset", "quick", "--epochs", "2", "--repetition", "2",
        "--batch-size", "8", "--device", "cpu", "--architecture", "wrn-10-1"]


def test_estimates_add_the_fixed_cost_and_prefer_measured_costs(tmp_path: Path) -> None:
    job = run_job(ClassifierConfig(data=DataConfig("cifar10", k=10), architecture="wrn-16-2", epochs=2, device="cpu"))
    assert job.steps == 1000 and job.cost_key == f"classifier/wrn-16-2/32px/{PRECISION}"
    default = estimate_cost([job], "cpu").seconds
    assert default == pytest.approx(1000 * DEFAULT_STEP_SECONDS["cpu"]["classifier/wrn-16-2"]
                                    + run_kind("classifier").overhead_seconds["cpu"])
    measured = {"classifier/wrn-16-2": RunCost(seconds_per_step=0.5, overhead_s=7.0)}
    assert estimate_cost([job], "cpu", measured=measured).seconds == pytest.approx(507.0)
    assert estimate_cost([job], "cpu", {"classifier/wrn-16-2": 0.1}, measured).seconds == pytest.approx(107.0)


def test_a_finished_run_records_its_cost(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    result = {"steps": 100, "log": [{"seconds": 5.0}, {"seconds": 20.0}], "pack_size": 1,
              "environment": {"device": "cpu", "threads": 3}}
    assert record_cost("classifier/x", result, elapsed_s=26.0, path=path) == RunCost(0.2, 6.0)
    assert load_costs("cpu", path, threads=3) == {"classifier/x": RunCost(0.2, 6.0)}
    assert load_costs("cpu", path, threads=1) == {}  # runs on other threads have costs of their own
    assert load_costs("cuda", path) == {}
    assert record_cost("classifier/x", {**result, "pack_size": 2}, 26.0, path) is None  # packs are not one run
    assert record_cost("classifier/x", {**result, "reused": True}, 26.0, path) is None
    path.write_text("{not json")
    assert load_costs("cpu", path) == {}  # a damaged cache: the defaults


def finished_run(seconds_per_step: float, overhead_s: float, pool_s: float = 0.0) -> tuple[dict[str, Any], float]:
    """The result of a finished 100-step run on 2 CPU threads and the seconds the job took in all."""
    result: dict[str, Any] = {"steps": 100, "log": [{"seconds": 100 * seconds_per_step}], "pack_size": 1,
                              "environment": {"device": "cpu", "threads": 2}}
    if pool_s:
        result["pool"] = {"mixes": 100, "seconds": pool_s}
    return result, 100 * seconds_per_step + overhead_s + pool_s


def test_one_run_on_a_loaded_machine_does_not_move_the_cost(tmp_path: Path) -> None:
    """A run slowed down by unrelated processes (twice the step, the pool's mixes three times as slow) is one
    measurement of a history whose median estimates use; a lasting change of the machine moves it after a few
    runs."""
    config = ClassifierConfig(data=DataConfig("cifar10", k=10), method="supermix", architecture="wrn-16-2",
                              epochs=2, method_settings={"supermix": to_dict(SuperMixConfig(pool_per_image=3))},
                              device="cpu")
    job, path = run_job(config), tmp_path / "costs.json"
    normal, loaded = finished_run(0.0625, 20.0, pool_s=50.0), finished_run(0.125, 45.0, pool_s=150.0)
    for _ in range(3):
        assert record_cost(job.cost_key, *normal, path=path) == RunCost(0.0625, 20.0)
    before = load_costs("cpu", path, threads=2)
    assert record_cost(job.cost_key, *loaded, path=path) == RunCost(0.0625, 20.0)  # the cost plans use now
    after = load_costs("cpu", path, threads=2)
    assert after == before and after[pool_mix_key(job.cost_key)] == RunCost(0.5, 0.0)
    assert estimate_cost([job], "cpu", measured=after).seconds == job.steps * 0.0625 + 20.0 + 300 * 0.5
    for _ in range(2):  # the machine got slower for good: three slow runs of the last five
        record_cost(job.cost_key, *loaded, path=path)
    lasting = load_costs("cpu", path, threads=2)
    assert (lasting[job.cost_key], lasting[pool_mix_key(job.cost_key)]) == (RunCost(0.125, 45.0), RunCost(1.5, 0.0))


def test_a_cache_entry_keeps_its_latest_measurements(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    for seconds in range(1, HISTORY_SIZE + 3):
        record_cost("classifier/x", *finished_run(seconds / 100, 10.0), path=path)
    history = json.loads(path.read_text())[machine("cpu", 2)]["classifier/x"]["history"]
    assert [round(each["seconds_per_step"], 6) for each in history] == [seconds / 100 for seconds in range(3, 8)]
    assert all(set(each) == {"seconds_per_step", "overhead_s", "at", "load", "cpus"} for each in history)
    assert history[-1]["cpus"] == os.cpu_count() and history[-1]["at"].endswith("+00:00")
    assert load_costs("cpu", path, threads=2)["classifier/x"].seconds_per_step == pytest.approx(0.05)


def test_an_old_cache_entry_is_a_history_of_one(tmp_path: Path) -> None:
    """A cache written before the histories (each entry the latest measurement) loads, and its entry becomes the
    first measurement of a history; a damaged entry or file loads as no costs, and a run replaces it."""
    path, here = tmp_path / "costs.json", machine("cpu", 2)
    write_json(path, {here: {"classifier/x": {"seconds_per_step": 0.5, "overhead_s": 7.0}}})
    assert load_costs("cpu", path, threads=2) == {"classifier/x": RunCost(0.5, 7.0)}
    assert record_cost("classifier/x", *finished_run(0.25, 9.0), path=path) == RunCost(0.25, 7.0)  # the lower ones
    history = json.loads(path.read_text())[here]["classifier/x"]["history"]
    assert [(each["seconds_per_step"], each["overhead_s"]) for each in history] == [(0.5, 7.0), (0.25, 9.0)]
    for damaged in ({here: {"classifier/x": 3}}, {here: {"classifier/x": {"history": []}}}, ["not", "a", "cache"]):
        write_json(path, damaged)
        assert load_costs("cpu", path, threads=2) == {}  # the defaults
        assert record_cost("classifier/x", *finished_run(0.125, 9.0), path=path) == RunCost(0.125, 9.0)
        assert load_costs("cpu", path, threads=2) == {"classifier/x": RunCost(0.125, 9.0)}


def test_the_median_of_an_even_count_is_the_lower_middle_value() -> None:
    def history(*seconds: float) -> list[dict[str, Any]]:
        return [{"seconds_per_step": each, "overhead_s": 10 * each} for each in seconds]

    assert median_cost(history(0.3, 0.1, 0.2)) == RunCost(0.2, 2.0)
    assert median_cost(history(0.08, 0.04)) == median_cost(history(0.04, 0.08)) == RunCost(0.04, 0.4)
    assert median_cost(history(0.4, 0.1, 0.3, 0.2)) == RunCost(0.2, 2.0)  # a measured value, not 0.25
    assert median_cost([{"seconds_per_step": 0.1, "overhead_s": 9.0}, {"seconds_per_step": 0.2, "overhead_s": 1.0},
                        {"seconds_per_step": 0.3, "overhead_s": 5.0}]) == RunCost(0.2, 5.0)  # each on its own
    with pytest.raises(ValueError):
        median_cost([])


def test_a_supermix_pool_is_estimated_and_measured_per_mix(tmp_path: Path) -> None:
    """A SuperMix student's pool (made before training, minutes on a CPU) is part of its estimate, and a finished
    run records it as seconds per mix, apart from the run's fixed cost."""
    config = ClassifierConfig(data=DataConfig("cifar10", k=10), method="supermix", architecture="wrn-16-2",
                              epochs=2, method_settings={"supermix": to_dict(SuperMixConfig(pool_per_image=3))},
                              device="cpu")
    job = run_job(config)
    key, mix_key = (f"classifier/wrn-16-2/supermix-pool{mix}/32px/{PRECISION}" for mix in ("", "-mix"))
    assert (job.cost_key, job.pool_mixes, pool_mix_key(key)) == (key, 300, mix_key)
    cpu = default_step_seconds("cpu")  # the defaults (SuperMix's declared by it) are found under the keys' prefixes
    assert estimate_cost([job], "cpu").seconds == pytest.approx(
        job.steps * cpu["classifier/wrn-16-2/supermix-pool"] + run_kind("classifier").overhead_seconds["cpu"]
        + 300 * cpu["classifier/wrn-16-2/supermix-pool-mix"])
    assert run_job(ClassifierConfig(data=DataConfig("cifar10", k=10), method="supermix",
                                    method_settings={"supermix": {"pool_per_image": 0}})).pool_mixes == 0  # on the fly
    path = tmp_path / "costs.json"
    result = {"steps": 100, "log": [{"seconds": 20.0}], "pack_size": 1, "environment": {"device": "cpu"},
              "pool": {"mixes": 300, "seconds": 150.0, "batches": 12}}
    assert record_cost(key, result, elapsed_s=180.0, path=path) == RunCost(0.2, 10.0)
    measured = load_costs("cpu", path)
    assert measured[mix_key] == RunCost(0.5, 0.0)
    assert estimate_cost([job], "cpu", measured=measured).seconds == pytest.approx(job.steps * 0.2 + 10 + 300 * 0.5)


def test_commands_print_estimates_from_this_machines_costs(tiny_data_root: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["classifier", "train", *TINY, "--data-root", str(tiny_data_root), "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert "estimate on cpu, 1 thread: about" in captured.out
    assert f"classifier/wrn-10-1/32px/{PRECISION}: 1 run(s), " in captured.out  # the basis: network, size, cost
    assert "classifier: epoch 1/2" in captured.err and "classifier: epoch 2/2" in captured.err  # --no-progress
    measured = load_costs("cpu")[f"classifier/wrn-10-1/32px/{PRECISION}"]
    assert 0 < measured.seconds_per_step < 5 and measured.overhead_s >= 0
    assert main([*argv, "--out", str(tmp_path / "a"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "estimate on" not in out and "reused: it had finished before" in out


def test_hours_on_a_cpu_need_a_yes(tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--dataset", "cifar10", "--k", "2", "--method", "chimeramix-grid", "--device", "cpu",
            "--data-root", str(tiny_data_root), "--out", str(tmp_path / "runs")]
    assert main(argv) == 2  # the paper preset: 200 epochs of WRN-16-8 and a full generator
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "on this CPU (the paper preset needs a GPU)" in error
    assert "--preset quick would take about" in error and "pass --yes" in error
    assert not (tmp_path / "runs").exists()
    check_estimate(10 * 3600, "cpu", yes=True, quick_seconds=None)  # --yes starts it
    check_estimate(10 * 3600, "cuda", yes=False, quick_seconds=None)  # a GPU is not asked about
    with pytest.raises(ChimeraMixError, match=r"this would take about 10\.0 h"):
        check_estimate(10 * 3600, "cpu", yes=False, quick_seconds=60)


def test_default_costs_scale_with_the_image_size() -> None:
    """A default measured at 32 px stands in for another size scaled by the pixels (the estimate of a photo
    folder's 96 px run was 9 times too short); a measured cost is used only for its own size."""
    config = ClassifierConfig(data=DataConfig("cifar10", k=10), architecture="wrn-16-2", epochs=2, device="cpu")
    small = run_job(config)
    photos = replace(small, config={**small.config, "data": {**small.config["data"], "folder_image_size": 96}})
    photos = replace(photos, config={**photos.config, "data": {**photos.config["data"], "dataset": "stl10"}})
    assert photos.cost_key == f"classifier/wrn-16-2/96px/{PRECISION}"
    book = CostBook("cpu")
    assert book.step_seconds(photos.cost_key) == pytest.approx(9 * book.step_seconds(small.cost_key))
    assert book.describe(photos.cost_key) == "0.72 s/step (default of classifier/wrn-16-2 at 32 px, scaled to 96 px)"
    measured = CostBook("cpu", measured={small.cost_key: RunCost(0.05, 1.0)})
    assert measured.step_seconds(small.cost_key) == 0.05 and measured.source(photos.cost_key) == "default"


def test_a_resumed_run_is_estimated_by_the_steps_it_has_left(tiny_data_root: Path, tmp_path: Path,
                                                            checkpoint_stop: CheckpointStop,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["classifier", "train", *TINY, "--data-root", str(tiny_data_root), "--no-progress", "--checkpoint-every",
            "1", "--out", str(tmp_path / "run")]
    checkpoint_stop.after(run_module, error=Interrupt)
    with pytest.raises(Interrupt):
        main(argv)
    checkpoint_stop.undo()
    job = run_job(from_dict(ClassifierConfig, json.loads((tmp_path / "run" / "config.json").read_text())["config"]))
    left = remaining(job, tmp_path / "run")
    assert (job.steps, left.steps) == (6, 3)  # 2 epochs of 3 steps, the first one done
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "1 run(s) resume, counted by the steps they have left" in out and ": 1 run(s), 3 steps x " in out


def test_a_resumed_sweep_is_estimated_by_the_steps_it_has_left(tiny_data_root: Path, tmp_path: Path,
                                                              checkpoint_stop: CheckpointStop,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    sweep = ["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "2", "--seeds", "0", "--preset",
             "quick", "--classifier-set", "architecture=wrn-10-1", "--classifier-set", "epochs=2",
             "--classifier-set", "checkpoint_every=1", "--classifier-set", "batch_size=8", "--device", "cpu",
             "--data-root", str(tiny_data_root), "--store", str(tmp_path / "store"), "--dry-run"]
    assert main(sweep) == 0
    assert "cls-cifar10-k2-s0-baseline-quick-" in capsys.readouterr().out
    store = Store.create(tmp_path / "store")
    spec = SweepSpec(["cifar10"], ["baseline"], [2], [0], preset="quick",
                     classifier={"architecture": "wrn-10-1", "epochs": 2, "checkpoint_every": 1, "batch_size": 8})
    job = plan_sweep(spec)[0]
    config = from_dict(ClassifierConfig, {**job.config, "device": "cpu",
                                          "data": {**job.config["data"], "data_root": str(tiny_data_root)}})
    checkpoint_stop.after(run_module, error=Interrupt)
    with pytest.raises(Interrupt):
        train_classifier(config, store.run_dir(job.id), progress=False)
    checkpoint_stop.undo()
    assert main(sweep) == 0
    out = capsys.readouterr().out
    assert "1 resume from a checkpoint (counted by the steps they have left)" in out
    assert f"{job.id}: {job.steps // 2} of {job.steps} steps left" in out
