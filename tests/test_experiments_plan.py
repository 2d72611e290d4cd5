"""Sweep planning: shared generators, job counts and ids, protocol step counts, sweep files, cost estimate."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from chimeramix.config import ClassifierConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.estimates import estimate_cost
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec, load_sweep_file
from chimeramix.runkinds import run_kind


def test_generators_are_shared_by_every_method_that_needs_them() -> None:
    methods = ["baseline", "chimeramix-grid", "chimeramix-seg", "trivialaugment+chimeramix-grid"]
    jobs = plan_sweep(SweepSpec(["cifar10"], methods, [5, 10], [0, 1], preset="quick"))
    generators = [job for job in jobs if job.kind == "generator"]
    classifiers = [job for job in jobs if job.kind == "classifier"]
    assert len(generators) == 2 * 2 * 2  # masks x k x seeds
    assert len(classifiers) == 4 * 2 * 2
    assert jobs[: len(generators)] == generators  # generators come first
    by_id = {job.id: job for job in jobs}
    grid = by_id["cls-cifar10-k10-s1-chimeramix-grid-quick"]
    combo = by_id["cls-cifar10-k10-s1-chimeramix-grid+trivialaugment-quick"]  # canonical name
    assert grid.depends_on == combo.depends_on == "gen-cifar10-k10-s1-grid-quick"
    assert by_id["cls-cifar10-k10-s1-chimeramix-seg-quick"].depends_on == "gen-cifar10-k10-s1-seg-quick"
    assert by_id["cls-cifar10-k10-s1-baseline-quick"].depends_on is None
    assert by_id["gen-cifar10-k10-s1-seg-quick"].config["masks"]["kind"] == "seg"


def test_steps_follow_the_protocol() -> None:
    spec = SweepSpec(["cifar10", "stl10"], ["chimeramix-grid"], [5, 10], [0])
    jobs = {job.id: job for job in plan_sweep(spec)}
    # classifier: epochs * ceil(k * C * max(R // k, 1) / batch); the protocol's table of costs
    assert jobs["cls-cifar10-k10-s0-chimeramix-grid-paper"].steps == 200 * 500 == 100_000
    assert jobs["gen-cifar10-k10-s0-grid-paper"].steps == 200 * 79 == 15_800
    assert jobs["cls-stl10-k5-s0-chimeramix-grid-paper"].steps == 200 * 75 == 15_000
    assert jobs["gen-stl10-k5-s0-grid-paper"].steps == 200 * 150
    quick = plan_sweep(SweepSpec(["cifar10"], ["baseline"], [5], [0], preset="quick"))[0]
    epochs, base = ClassifierConfig.QUICK["epochs"], ClassifierConfig.QUICK["repetition"]
    assert quick.steps == epochs * math.ceil(50 * max(base // 5, 1) / 10)


def test_overrides_change_ids_by_a_short_hash() -> None:
    plain = {job.id for job in plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-seg"], [5], [0]))}
    tuned = plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-seg"], [5], [0],
                                 first_runs={"generator": {"epochs": 3}}))
    ids = {job.id for job in tuned}
    assert "cls-cifar10-k5-s0-baseline-paper" in ids  # the baseline needs no generator: unchanged
    stems = sorted(name.rsplit("-", 1)[0] for name in ids - plain)
    assert stems == ["cls-cifar10-k5-s0-chimeramix-seg-paper", "gen-cifar10-k5-s0-seg-paper"]
    generator = next(job for job in tuned if job.kind == "generator")
    assert generator.config["epochs"] == 3


def test_bad_grids_are_clear_errors() -> None:
    with pytest.raises(ChimeraMixError, match="unknown method 'nope'"):
        plan_sweep(SweepSpec(["cifar10"], ["nope"], [5], [0]))
    with pytest.raises(ChimeraMixError, match="unknown dataset"):
        plan_sweep(SweepSpec(["mnist"], ["baseline"], [5], [0]))
    with pytest.raises(ChimeraMixError, match="override keys \\['epoch'\\]"):
        plan_sweep(SweepSpec(["cifar10"], ["baseline"], [5], [0], classifier={"epoch": 1}))
    with pytest.raises(ChimeraMixError, match="override keys \\['method'\\]"):
        plan_sweep(SweepSpec(["cifar10"], ["baseline"], [5], [0], classifier={"method": "mixup"}))


def test_sweep_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("datasets: [cifar10]\nmethods: baseline,chimeramix-grid\nk: [5, 10]\nseeds: 0-2\n"
                    "preset: quick\ngenerator: {epochs: 1}\n")
    spec = load_sweep_file(path)
    assert (spec.datasets, spec.methods, spec.ks, spec.seeds) == (
        ["cifar10"], ["baseline", "chimeramix-grid"], [5, 10], [0, 1, 2])
    assert spec.preset == "quick" and spec.first_runs == {"generator": {"epochs": 1}} and spec.classifier == {}

    path.write_text("datasets: [cifar10]\nmethods: [baseline]\nk: 5\nseeds: 0\nworkers: 3\n")
    with pytest.raises(ChimeraMixError, match="unknown keys \\['workers'\\]"):
        load_sweep_file(path)
    path.write_text("datasets: [cifar10]\nmethods: [baseline]\nk: 5\nseeds: 0\nclassifier: {lr_max: 1}\n")
    with pytest.raises(ChimeraMixError, match="lr_max"):
        load_sweep_file(path)
    path.write_text("datasets: [cifar10]\n")
    with pytest.raises(ChimeraMixError, match="lacks the keys \\['k', 'methods', 'seeds'\\]"):
        load_sweep_file(path)


def test_cost_estimate_multiplies_steps_by_per_step_costs() -> None:
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-grid"], [5], [0], preset="quick"))
    cost = estimate_cost(jobs, "cpu", {"classifier": 0.5, "generator/64px-16ch-b16": 2.0})
    assert (cost.generator_jobs, cost.classifier_jobs) == (1, 2)
    assert cost.classifier_steps == sum(job.steps for job in jobs[1:])
    assert cost.generator_steps == jobs[0].steps
    overhead = 2 * run_kind("classifier").overhead_seconds["cpu"] + run_kind("generator").overhead_seconds["cpu"]
    assert cost.seconds == pytest.approx(cost.classifier_steps * 0.5 + cost.generator_steps * 2.0 + overhead)
    with pytest.raises(ChimeraMixError, match="--step-seconds"):
        estimate_cost(jobs, "tpu")


def test_generator_axes_make_a_job_per_setting_named_by_what_differs() -> None:
    plain = plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-grid", "chimeramix-seg"], [10], [0],
                                 preset="quick"))
    spec = SweepSpec(["cifar10"], ["baseline", "chimeramix-grid", "chimeramix-seg"], [10], [0], preset="quick",
                     generator_axes={"grid_cells": [1, 2, 4, 8]})
    jobs = {job.id: job for job in plan_sweep(spec)}
    assert {job.id for job in plain} <= set(jobs)  # the default setting keeps its id
    assert sorted(name for name in jobs if name.startswith("gen-")) == [
        "gen-cifar10-k10-s0-grid-g1-quick", "gen-cifar10-k10-s0-grid-g2-quick", "gen-cifar10-k10-s0-grid-g8-quick",
        "gen-cifar10-k10-s0-grid-quick", "gen-cifar10-k10-s0-seg-quick"]  # seg masks have no grid
    assert jobs["gen-cifar10-k10-s0-grid-g8-quick"].config["masks"]["grid_cells"] == 8
    assert jobs["cls-cifar10-k10-s0-chimeramix-grid-g8-quick"].depends_on == "gen-cifar10-k10-s0-grid-g8-quick"
    assert len(jobs) == 5 + 6


def test_stl10_mixing_point_grid_at_k20_keeps_whole_blocks() -> None:
    """Fig. 6's grid: blocks x relative mixing point, on STL-10 with k = 20 (planning needs no data)."""
    spec = SweepSpec(["stl10"], ["chimeramix-grid", "chimeramix-seg"], [20], [0, 1, 2],
                     generator_axes={"blocks": [2, 4], "mix_point": [0, 0.25, 0.5, 0.75, 1]})
    generators = [job for job in plan_sweep(spec) if job.kind == "generator"]
    settings = {(job.config["blocks"], job.config["mix_after"]) for job in generators}
    assert settings == {(2, 0), (2, 1), (2, 2), (4, 0), (4, 1), (4, 2), (4, 3), (4, 4)}  # 0.25 of 2 is left out
    assert len(generators) == 8 * 2 * 3
    ids = {job.id for job in generators}
    assert "gen-stl10-k20-s1-seg-b2-m1-paper" in ids and "gen-stl10-k20-s1-grid-m3-paper" in ids
    assert all(job.config["data"]["k"] == 20 and job.steps == 200 * 150 for job in generators)


def test_bad_generator_axes_are_clear_errors(tmp_path: Path) -> None:
    def plan(axes: dict, **spec: dict) -> None:
        plan_sweep(SweepSpec(["cifar10"], ["chimeramix-grid"], [5], [0], generator_axes=axes, **spec))

    with pytest.raises(ChimeraMixError, match="unknown generator axes \\['cells'\\]"):
        plan({"cells": [2]})
    with pytest.raises(ChimeraMixError, match="no mixing point"):
        plan({"blocks": [3], "mix_point": [0.5]})
    with pytest.raises(ChimeraMixError, match="in \\[0, 1\\]"):
        plan({"mix_point": [2]})
    with pytest.raises(ChimeraMixError, match="also set as generator overrides"):
        plan({"grid_cells": [2]}, first_runs={"generator": {"masks": {"grid_cells": 8}}})
    path = tmp_path / "sweep.yaml"
    path.write_text("datasets: [cifar10]\nmethods: [chimeramix-grid]\nk: 10\nseeds: 0\n"
                    "generator_axes: {grid_cells: [1, 8]}\n")
    assert load_sweep_file(path).generator_axes == {"grid_cells": [1, 8]}
    path.write_text("datasets: [cifar10]\nmethods: [chimeramix-grid]\nk: 10\nseeds: 0\ngenerator_axes: {blocks: [a]}\n")
    with pytest.raises(ChimeraMixError, match="list of numbers"):
        load_sweep_file(path)


def test_the_generators_overrides_are_one_setting_however_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    """``--generator-set KEY=VALUE``, ``--first-run-set generator.KEY=VALUE`` and the sweep file's ``generator:``
    key plan the same jobs (the generator is a kind its components declare, as GLICO's stage 1 is; at db5a538
    ``--first-run-set`` refused it, the core's kind then)."""
    from chimeramix.cli import main

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("datasets: [cifar10]\nmethods: [chimeramix-grid]\nk: 10\nseeds: 0\npreset: quick\n"
                     "generator: {epochs: 3}\n")
    argv = ["sweep", "--datasets", "cifar10", "--methods", "chimeramix-grid", "--k", "10", "--seeds", "0",
            "--preset", "quick", "--dry-run"]
    outputs = []
    for n, given in enumerate((["--generator-set", "epochs=3"], ["--first-run-set", "generator.epochs=3"],
                               ["--file", str(sweep)])):
        assert main([*argv, *given, "--store", str(tmp_path / f"store{n}")]) == 0
        outputs.append(capsys.readouterr().out.replace(str(tmp_path / f"store{n}"), "STORE"))
    assert outputs[0] == outputs[1] == outputs[2]
    assert re.search(r"gen-cifar10-k10-s0-grid-quick-[0-9a-f]{6}\b", outputs[0])  # the overrides' hash
