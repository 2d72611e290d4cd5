"""Time budgets: the scaling path, plans from this machine's costs (measured by a trial when it has none), the
plan recorded in both run configs and kept by reruns, and ``--budget`` on ``run``, ``sweep`` and ``compare``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chimeramix.budget import (
    budget_minutes,
    budget_preset,
    epochs_and_repetition,
    generator_size,
    rung_for,
)
from chimeramix.cli import main
from chimeramix.config import BudgetConfig, ClassifierConfig, DataConfig, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.budget import (
    apply_budget,
    budget_configs,
    describe_plan,
    measure_missing,
    plan_budget,
    run_steps,
)
from chimeramix.experiments.costs import (
    CostBook,
    RunCost,
    cost_key,
    costs_path,
    load_costs,
    machine,
    record_cost,
)
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.spec import SweepSpec
from chimeramix.experiments.worker import available_cores
from chimeramix.fileio import write_json
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.rundir import RunFolder

pytestmark = pytest.mark.usefixtures("one_thread")

GENERATOR_KEY = "generator/32px-16ch-b16"
CLASSIFIER_KEY = "classifier/wrn-16-2"


def tiny(root: Path, method: str = "baseline", seed: int = 0, k: int = 4) -> ClassifierConfig:
    return ClassifierConfig(data=DataConfig("cifar10", k, seed, str(root)), method=method, device="cpu")


def book(generator_s: float = 0.25, classifier_s: float = 0.2, compose_s: float = 0.3) -> CostBook:
    """Costs as if measured: the generator, the plain classifier, the classifier composing with the generator."""
    return CostBook("cpu", measured={GENERATOR_KEY: RunCost(generator_s, 2.0),
                                     CLASSIFIER_KEY: RunCost(classifier_s, 5.0),
                                     f"{CLASSIFIER_KEY}/compose-32px-16ch": RunCost(compose_s, 5.0)})


def test_the_scaling_path_and_the_arithmetic() -> None:
    assert (budget_preset(20), budget_preset(2.5), budget_minutes("20min"), budget_minutes("quick")) == (
        "20min", "2.5min", 20.0, None)
    with pytest.raises(ChimeraMixError, match="positive number of minutes"):
        budget_preset(0)
    assert rung_for(5) == rung_for(60)  # one rung so far: WRN-16-2, a 16-channel generator, a quarter of the time
    assert (generator_size(32), generator_size(8), generator_size(96), generator_size(30)) == (32, 32, 96, 32)
    values = epochs_and_repetition(1000, images=40, k=4, batch_size=10)  # 250 passes over 40 images
    assert values == {"epochs": 35, "repetition": 28, "checkpoint_every": 4}  # 35 epochs of 7 passes
    assert epochs_and_repetition(3, images=40, k=4, batch_size=10)["epochs"] == 1


def test_a_plan_splits_the_budget_and_fits_it(tiny_data_root: Path) -> None:
    costs = book()
    baseline = plan_budget(tiny(tiny_data_root), 2, costs)
    grid = plan_budget(tiny(tiny_data_root, "chimeramix-grid"), 2, costs)
    assert baseline.preset == grid.preset == "2min" and baseline.architecture == "wrn-16-2"
    assert baseline.budget is not None and grid.budget is not None
    assert baseline.budget.generator_steps == 0 and baseline.budget.classifier_steps == int((120 - 5) / 0.2)
    share = rung_for(2).generator_share
    assert grid.budget.generator_steps == int((share * 120 - 2) / 0.25)
    assert grid.budget.classifier_steps == int((120 - 7 - grid.budget.generator_steps * 0.25) / 0.3)
    for planned in (baseline, grid):
        assert planned.budget is not None and 0.9 * 120 <= planned.budget.planned_s <= 120
        assert "measured" in planned.budget.costs and machine("cpu") in planned.budget.costs
    generator, classifier = budget_configs(grid)
    assert generator is not None and generator.budget == classifier.budget == grid.budget  # one record, both runs
    assert (generator.working_size, generator.base_channels, generator.batch_size) == (32, 16, 16)
    assert abs(run_steps(generator) - grid.budget.generator_steps) <= 0.1 * grid.budget.generator_steps
    assert abs(run_steps(classifier) - grid.budget.classifier_steps) <= 0.1 * grid.budget.classifier_steps
    # the record alone gives the same runs, whatever this machine's costs are now (a rerun, another machine)
    assert apply_budget(tiny(tiny_data_root, "chimeramix-grid"), grid.budget) == grid
    text = describe_plan(grid)
    assert "generator" in text and "classifier" in text and "planned" in text


def test_one_run_on_a_loaded_machine_does_not_change_the_plan(tiny_data_root: Path, tmp_path: Path) -> None:
    """A plan uses the median of a cost's last measurements: the last run, slowed down to twice its step by
    unrelated processes, leaves the plan as the normal runs made it."""
    path = tmp_path / "costs.json"
    for training_s in (20.0, 20.0, 20.0, 40.0):  # 100 steps: 0.2 s each, then 0.4 s on the loaded machine
        result = {"steps": 100, "log": [{"seconds": training_s}], "environment": {"device": "cpu", "threads": 1}}
        record_cost(CLASSIFIER_KEY, result, training_s + 5.0, path)
    measured = CostBook("cpu", measured=load_costs("cpu", path, threads=1), threads=1)
    planned, expected = plan_budget(tiny(tiny_data_root), 2, measured), plan_budget(tiny(tiny_data_root), 2, book())
    assert planned.budget is not None and expected.budget is not None
    assert planned.budget.classifier_steps == expected.budget.classifier_steps == int((120 - 5) / 0.2)


def test_plans_that_cannot_fit_and_methods_without_a_plan_are_refused(tiny_data_root: Path) -> None:
    with pytest.raises(ChimeraMixError, match=r"leaves \d+ classifier steps .*give at least --budget"):
        plan_budget(tiny(tiny_data_root), 0.1, book())
    for method, why in (("supermix", "a teacher"), ("glico", "GLICO stage 1")):
        with pytest.raises(ChimeraMixError, match=why):
            plan_budget(tiny(tiny_data_root, method), 20, book())


def test_the_demo_plans_from_default_costs_before_anything_is_measured(tiny_data_root: Path) -> None:
    """``compare --dry-run`` on a machine that has measured nothing plans the demo's 10-minute ChimeraMix+Seg from
    the default costs (it once refused it: the budget's 32 px generator fell back to the full generator's 20 s)."""
    planned = plan_budget(replace(tiny(tiny_data_root, "chimeramix-seg"), data=DataConfig("cifar10", 10, 0,
                                                                                          str(tiny_data_root))),
                          10, CostBook("cpu"))
    assert planned.budget is not None and "generator default" in planned.budget.costs
    assert 500 < planned.budget.generator_steps < 1000 and planned.budget.classifier_steps > 2000


def test_a_new_machine_measures_before_it_plans(tiny_data_root: Path) -> None:
    costs = CostBook("cpu")
    config = tiny(tiny_data_root, "chimeramix-grid")
    assert measure_missing(config, 5, costs) is True
    generator, classifier = budget_configs(plan_budget(config, 5, costs))
    keys = {cost_key("generator", to_dict(generator)), cost_key("classifier", to_dict(classifier))}
    assert keys <= set(costs.measured) and keys <= set(load_costs("cpu"))  # measured and cached
    assert all(0 < costs.measured[key].seconds_per_step < 5 for key in keys)
    assert measure_missing(config, 5, costs) is False  # nothing left to measure


def fake_costs(generator_s: float, classifier_s: float) -> None:
    """This machine's cached costs of the tiny runs (a plan of about 20 generator and 120 classifier steps)."""
    precision = load_costs("cpu")  # keep any other entry
    entries: dict[str, Any] = {key: {"seconds_per_step": cost.seconds_per_step, "overhead_s": cost.overhead_s}
                               for key, cost in precision.items()}
    for key in [key for key in entries if key.startswith(("generator/32px-16ch", "classifier/wrn-16-2"))]:
        del entries[key]
    entries[GENERATOR_KEY] = {"seconds_per_step": generator_s, "overhead_s": 1.0}
    entries[CLASSIFIER_KEY] = {"seconds_per_step": classifier_s, "overhead_s": 1.0}
    for kind in ("generator/32px-16ch-b16", "classifier/wrn-16-2/compose-32px-16ch/32px", "classifier/wrn-16-2/32px"):
        for precision_name in ("bf16", "fp32"):  # the exact keys, so that no trial runs
            entries[f"{kind}/{precision_name}"] = entries[GENERATOR_KEY if kind.startswith("generator")
                                                          else CLASSIFIER_KEY]
    threads = {None, available_cores()}  # this process's runs, and a sweep's one worker on all the cores
    write_json(costs_path(), {machine("cpu", count): entries for count in threads})


def test_run_with_a_budget_plans_trains_and_keeps_its_plan(tiny_data_root: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake_costs(generator_s=0.3, classifier_s=0.25)
    argv = ["run", "--dataset", "cifar10", "--k", "2", "--data-root", str(tiny_data_root), "--method",
            "chimeramix-grid", "--budget", "1", "--device", "cpu", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "plan for chimeramix-grid within 1 min per job" in out and "chimeramix-grid on cifar10" in out
    classifier = RunFolder(tmp_path / "classifier-cifar10-k2-seed0-chimeramix-grid-1min")
    generator = RunFolder(tmp_path / "generator-cifar10-k2-seed0-grid-1min")
    stored = classifier.read_config(ClassifierConfig)
    assert stored.budget is not None and stored.budget == generator.read_config(GeneratorConfig).budget
    assert json.loads(classifier.result_file.read_text())["config"]["budget"]["minutes"] == 1
    fake_costs(generator_s=0.6, classifier_s=0.5)  # this machine got slower: a new plan would differ
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "(kept from the runs it started)" in out and "reused: it had finished before" in out
    assert main([*argv, "--preset", "quick"]) == 2
    assert "--budget replaces --preset" in capsys.readouterr().err
    assert main([*argv, "--epochs", "3"]) == 2
    assert "--budget decides classifier epochs" in capsys.readouterr().err


def test_a_budgeted_sweep_keeps_the_stores_plans(tiny_data_root: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fake_costs(generator_s=0.3, classifier_s=0.25)
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", "baseline,chimeramix-grid", "--k", "2", "--seeds", "0",
            "--budget", "1", "--data-root", str(tiny_data_root), "--device", "cpu", "--store", str(store),
            "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("plan for ") == 2 and "cls-cifar10-k2-s0-chimeramix-grid-1min" not in out
    plan = json.loads((store / "plan.json").read_text())["jobs"]
    assert {job["id"] for job in plan} == {"gen-cifar10-k2-s0-grid-1min", "cls-cifar10-k2-s0-baseline-1min",
                                           "cls-cifar10-k2-s0-chimeramix-grid-1min"}
    fake_costs(generator_s=0.6, classifier_s=0.5)  # slower now; a new seed still gets the store's plan
    assert main([*argv[:8], "0-1", *argv[9:], "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("(kept from the store's first plan)") == 2
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline"], [2], [0], data={"data_root": str(tiny_data_root)},
                                preset="1min", budget=1.0), book=CostBook.of_this_machine("cpu"))
    stored = next(job for job in plan if job["id"] == "cls-cifar10-k2-s0-baseline-1min")
    assert jobs[0].config["budget"] != stored["config"]["budget"]  # a fresh plan would have differed


def test_budget_overrides_and_sweep_files(tmp_path: Path) -> None:
    spec = SweepSpec(["cifar10"], ["baseline"], [10], [0], preset="20min", budget=20.0, classifier={"epochs": 3})
    with pytest.raises(ChimeraMixError, match="--budget decides classifier epochs"):
        plan_sweep(spec, book())
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("datasets: cifar10\nmethods: baseline\nk: 10\nseeds: 0\nbudget: 20\n")
    from chimeramix.experiments.spec import load_sweep_file

    assert (load_sweep_file(sweep_file).budget, load_sweep_file(sweep_file).preset) == (20.0, "20min")
    sweep_file.write_text("datasets: cifar10\nmethods: baseline\nk: 10\nseeds: 0\nbudget: 20\npreset: quick\n")
    with pytest.raises(ChimeraMixError, match="a budget or a preset, not both"):
        load_sweep_file(sweep_file)


def test_a_budget_record_round_trips_through_the_config_file(tmp_path: Path) -> None:
    config = replace(ClassifierConfig(), budget=BudgetConfig(20, 100, 2000, 0.2, 0.04, 30.0, 1190.0, "measured"))
    folder = RunFolder(tmp_path)
    import torch

    folder.write_config(config, torch.device("cpu"))
    assert folder.read_config(ClassifierConfig) == config
