"""Tables from a store (hand-computed aggregates, paper comparison, bad input), the paper data, the plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from chimeramix.cli import main
from chimeramix.cli.sweep import best_line
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.jobs import Job
from chimeramix.experiments.paired import paired_rows
from chimeramix.experiments.paper import paper_value
from chimeramix.experiments.plan import plan_sweep
from chimeramix.experiments.plots import accuracy_figure
from chimeramix.experiments.spec import SweepSpec
from chimeramix.experiments.store import Store
from chimeramix.experiments.table_text import render
from chimeramix.experiments.tables import Cell, ResultTable, build_tables, load_results
from chimeramix.fileio import write_json
from chimeramix.report import store_page

ACCURACIES = {  # (method, k) -> accuracy fraction per seed 0, 1, 2
    ("baseline", 5): [0.30, 0.32, 0.34],
    ("baseline", 10): [0.40, 0.37, 0.37],
    ("chimeramix-grid", 5): [0.50, 0.48, 0.52],
    ("chimeramix-grid", 10): [0.45, 0.46, 0.47],
}


def fill_store(root: Path, preset: str = "quick", seeds: tuple[int, ...] = (0, 1, 2), **spec: dict) -> Store:
    """A store whose planned jobs all finished with the accuracies of :data:`ACCURACIES`."""
    store = Store.create(root)
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-grid"], [5, 10], list(seeds),
                                preset=preset, **spec))
    store.merge_plan(jobs)
    for job in jobs:
        write_json(store.result_path(job.id), result_of(job))
    return store


def result_of(job: Job) -> dict:
    if job.kind == "generator":
        return {"config": job.config, "final": {}}
    data = job.config["data"]
    accuracy = ACCURACIES[job.config["method"], data["k"]][data["seed"]]
    return {"config": job.config, "metrics": {"accuracy": accuracy, "num_test_images": 10000}}


def test_cells_are_mean_and_sample_std_over_seeds(tmp_path: Path) -> None:
    tables = build_tables(load_results(fill_store(tmp_path / "store")))
    assert len(tables) == 1
    table = tables[0]
    assert (table.dataset, table.methods, table.ks) == ("cifar10", ["baseline", "chimeramix-grid"], [5, 10])
    cell = table.cells["baseline", 5]  # 30, 32, 34: mean 32, sample variance (4 + 0 + 4) / 2 = 4
    assert (cell.n, cell.mean, cell.std) == (3, pytest.approx(32.0), pytest.approx(2.0))
    cell = table.cells["baseline", 10]  # 40, 37, 37: mean 38, variance (4 + 1 + 1) / 2 = 3
    assert (cell.mean, cell.std) == (pytest.approx(38.0), pytest.approx(math.sqrt(3)))
    assert table.cells["chimeramix-grid", 10].std == pytest.approx(1.0)
    text = render(tables, "md")
    assert "| baseline | 32.00 ± 2.00 (n=3) | 38.00 ± 1.73 (n=3) |" in text
    assert "ddof=1" in text


def test_single_runs_have_no_std(tmp_path: Path) -> None:
    tables = build_tables(load_results(fill_store(tmp_path / "store", seeds=(1,))))
    assert math.isnan(tables[0].cells["baseline", 5].std)
    assert "| baseline | 32.00 (n=1) | 37.00 (n=1) |" in render(tables, "md")


def test_compare_with_the_paper(tmp_path: Path) -> None:
    tables = build_tables(load_results(fill_store(tmp_path / "store")), compare_paper=True)
    cell = tables[0].cells["baseline", 5]  # paper, ciFAIR-10 Table 1: 31.37 ± 3.28
    assert cell.paper is not None and (cell.paper.mean, cell.paper.std) == (31.37, 3.28)
    assert not cell.outside_paper
    grid = tables[0].cells["chimeramix-grid", 5]  # 50.00 vs 36.94 ± 2.63: outside
    assert grid.outside_paper
    text = render(tables, "md", compare_paper=True)
    assert "### cifar10 (ours: quick preset; paper: its full protocol, 5 splits)" in text  # beside the paper's
    assert "runs of the quick preset (CPU-sized" in text and "not comparable with the paper's numbers" in text
    assert "32.00 ± 2.00 (n=3)<br>paper 31.37 ± 3.28, Δ +0.63 |" in text
    assert "paper 36.94 ± 2.63, Δ +13.06 †" in text
    assert "ciFAIR-10" in text  # the footnote on comparing CIFAR-10 with ciFAIR-10
    csv_text = render(tables, "csv", compare_paper=True)
    header = ("dataset,method,k,n,mean,std,test_images,interval_low,interval_high,preset,paper_mean,paper_std,diff,"
              "outside_paper_std")
    assert csv_text.splitlines()[0] == header
    assert "cifar10,chimeramix-grid,5,3,50.0000,2.0000,10000,49.02,50.98,quick,36.94,2.63,13.0600,1" in csv_text
    latex = render(tables, "latex", compare_paper=True)
    assert r"$32.00 \pm 2.00$ {\scriptsize ($n=3$)} (31.37)" in latex and r"$^\dagger$" in latex


@pytest.mark.parametrize(("dataset", "method", "k", "expected"), [
    ("cifar10", "baseline", 5, (31.37, 3.28)),  # Table 1, ciFAIR-10
    ("stl10", "glico", 100, (54.82, 1.94)),  # Table 1, STL-10
    ("cifair100", "supermix", 30, (44.69, 0.63)),  # Table 1, ciFAIR-100
    ("cifar100", "chimeramix-seg+trivialaugment", 5, (26.36, 0.17)),  # Table 2
    ("cifair100", "chimeramix-grid+autoaugment", 100, (64.19, 0.68)),  # Table 2
    ("stl10", "segmix", 20, (37.80, 1.91)),  # Table 3
    ("cifair10", "gridmix", 30, (54.99, 2.49)),  # Table 3
    ("cifair10", "chimeramix-seg+autoaugment", 50, (70.09, 0.72)),  # Table 4
    ("stl10", "trivialaugment", 10, (35.87, 1.57)),  # Table 4
])
def test_paper_transcription_spot_checks(
    dataset: str, method: str, k: int, expected: tuple[float, float]
) -> None:
    value = paper_value(dataset, method, k)
    assert value is not None and (value.mean, value.std) == expected


def test_paper_gaps_are_gaps() -> None:
    assert paper_value("cifar10", "autoaugment", 20) is None  # Table 4 has no k = 20
    assert paper_value("cifar100", "autoaugment", 20) is not None  # Table 2 has
    assert paper_value("stl10", "scattering", 5) is None
    assert paper_value("folder:x", "baseline", 5) is None


def test_mixed_presets_and_settings_are_never_averaged(tmp_path: Path) -> None:
    store = fill_store(tmp_path / "store", preset="quick", seeds=(0, 1))
    fill_store(tmp_path / "store", preset="paper", seeds=(2,))
    with pytest.raises(ChimeraMixError, match="mix the presets paper, quick; pass --preset"):
        build_tables(load_results(store))
    quick = build_tables(load_results(store, preset="quick"))
    assert quick[0].cells["baseline", 5].n == 2

    other = fill_store(tmp_path / "other", seeds=(0, 1))
    fill_store(tmp_path / "other", seeds=(2,), classifier={"epochs": 1})
    with pytest.raises(ChimeraMixError, match=r"differ in classifier\.epochs"):
        build_tables(load_results(other))

    repeated = fill_store(tmp_path / "repeated", seeds=(0, 1))
    fill_store(tmp_path / "repeated", seeds=(1,), classifier={"checkpoint_every": 1})  # same recipe
    with pytest.raises(ChimeraMixError, match="seed 1 has several runs"):
        build_tables(load_results(repeated))


def test_bad_stores_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match="missing or empty"):
        Store.open(tmp_path / "nothing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hello")
    with pytest.raises(ChimeraMixError, match="not a chimeramix results store"):
        Store.open(tmp_path / "foreign")
    with pytest.raises(ChimeraMixError, match="not a chimeramix results store"):
        Store.create(tmp_path / "foreign")
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / "store.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ChimeraMixError, match="format 99"):
        Store.open(tmp_path / "future")
    with pytest.raises(ChimeraMixError, match="no finished classifier results"):
        load_results(Store.create(tmp_path / "empty"))

    store = fill_store(tmp_path / "store")
    job_id = next(job for job in store.load_plan().values() if job.kind == "classifier").id
    write_json(store.result_path(job_id), {"config": {}, "accuracy": 0.3})
    with pytest.raises(ChimeraMixError, match="incompatible chimeramix version"):
        load_results(store)
    percent = {**result_of(store.load_plan()[job_id]), "metrics": {"accuracy": 31}}
    write_json(store.result_path(job_id), percent)
    with pytest.raises(ChimeraMixError, match="not a fraction"):
        load_results(store)


def test_table_command_writes_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = fill_store(tmp_path / "store")
    plot = tmp_path / "plot.png"
    assert main(["table", "--store", str(store.root), "--compare", "paper", "--plot", str(plot)]) == 0
    assert "### cifar10" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "table.csv"
    assert main(["table", "--store", str(store.root), "--format", "csv", "--output", str(out)]) == 0
    assert out.read_text().startswith("dataset,method,k,n,mean,std,test_images,interval_low,interval_high,preset\n")
    assert main(["table", "--store", str(tmp_path / "missing")]) == 2
    assert "not a results store" in capsys.readouterr().err


def test_sweep_command_dry_run_and_bad_sweep_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", "baseline,chimeramix-grid,chimeramix-seg",
            "--k", "5,10,20,30,50,100", "--seeds", "0-4", "--store", str(store), "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "plan: 150 jobs (60 generators, 90 classifiers); 0 already finished" in out
    assert "gen-cifar10-k100-s4-seg-paper: 15800 steps" in out
    assert "estimate on" in out
    assert not store.exists()  # a dry run writes nothing
    assert "pack of" not in out

    assert main([*argv, "--pack", "10", "--generator-pack", "5"]) == 0
    packs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  pack of")]
    assert len(packs) == 12 + 6 + 6  # generators: 2 masks x 6 k, by 5; classifiers: 15 per k by 10, of 3 methods
    assert sum(line.startswith("  pack of 10:") for line in packs) == 6
    for pack in packs:  # one k (and dataset) per pack
        assert len({job_id.split("-k")[1].split("-")[0] for job_id in pack.split(": ")[1].split()}) == 1
    assert main([*argv[:-1], "--pack", "0"]) == 2
    assert "--pack must be at least 1" in capsys.readouterr().err and not store.exists()

    stl = ["sweep", "--datasets", "stl10", "--methods", "chimeramix-grid", "--k", "20", "--seeds", "0",
           "--generator-axis", "blocks=2,4", "--generator-axis", "mix_point=0,0.5,1", "--store", str(store),
           "--dry-run", "--device", "cuda"]
    assert main(stl) == 0
    assert "gen-stl10-k20-s0-grid-b2-m1-paper: 30000 steps" in capsys.readouterr().out
    assert main([*stl, "--generator-axis", "grid_cells=two"]) == 2
    assert "cannot read --generator-axis 'grid_cells=two'" in capsys.readouterr().err

    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("datasets: [cifar10]\nmethods: [baseline]\nk: 5\nseeds: 0\nepochs: 3\n")
    assert main(["sweep", "--file", str(sweep_file), "--store", str(store)]) == 2
    assert "unknown keys ['epochs']" in capsys.readouterr().err


def test_recipes_are_rows_of_their_own(tmp_path: Path) -> None:
    """Runs of the released recipe are shown as such, next to the paper's numbers, never averaged with
    paper-recipe runs."""
    store = fill_store(tmp_path / "store")
    released = plan_sweep(SweepSpec(["cifar10"], ["baseline"], [5], [0, 1, 2], preset="quick", recipe="released"))
    store.merge_plan(released)
    for job in released:
        write_json(store.result_path(job.id), result_of(job))
    tables = build_tables(load_results(store), compare_paper=True)
    assert tables[0].methods == ["baseline", "chimeramix-grid", "baseline [released]"]
    cell = tables[0].cells["baseline [released]", 5]
    assert cell.mean == pytest.approx(32.0) and cell.paper is not None and cell.paper.mean == 31.37
    assert "| baseline [released] | 32.00 ± 2.00 (n=3)" in render(tables, "md", compare_paper=True)


def test_results_and_plans_written_before_a_config_field_existed_still_match(tmp_path: Path) -> None:
    """A store of an older version (its configs lack the folder fields of DataConfig) keeps its plan, and its
    results average with new ones: missing fields read as their defaults."""
    store = fill_store(tmp_path / "store")
    plan = store.load_plan()
    old = next(job for job in plan.values() if job.kind == "classifier" and job.config["data"]["seed"] == 0)
    for key in ("folder_test_fraction", "folder_folds", "skip_unreadable", "fingerprint", "image_size_choice"):
        del old.config["data"][key]
    write_json(store.root / "plan.json", {"format": 1, "jobs": [job.to_dict() for job in plan.values()]})
    write_json(store.result_path(old.id), result_of(old))
    store.merge_plan(plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-grid"], [5, 10], [0, 1, 2],
                                          preset="quick")))  # the same jobs: no "different definition"
    cell = build_tables(load_results(store))[0].cells[old.config["method"], old.config["data"]["k"]]
    assert cell.n == 3


def test_accuracy_over_a_generator_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fig. 7's view: a sweep over grid cells, one line per mask kind, the baseline as a reference."""
    from chimeramix.experiments.sensitivity import axis_tables

    store = Store.create(tmp_path / "store")
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline", "chimeramix-grid"], [10], [0, 1], preset="quick",
                                generator_axes={"grid_cells": [1, 2, 4, 8]}))
    store.merge_plan(jobs)
    for job in jobs:
        if job.kind == "generator":
            write_json(store.result_path(job.id), {"config": job.config, "final": {}})
            continue
        cells = next((j.config["masks"]["grid_cells"] for j in jobs if j.id == job.depends_on), 0)
        accuracy = 0.30 + 0.01 * cells + 0.02 * job.config["data"]["seed"]
        write_json(store.result_path(job.id), {"config": job.config, "metrics": {"accuracy": accuracy}})
    results = load_results(store)
    assert build_tables(results)[0].methods == [
        "baseline", "chimeramix-grid [1x1 grid]", "chimeramix-grid [2x2 grid]", "chimeramix-grid",
        "chimeramix-grid [8x8 grid]"]
    (table,) = axis_tables(results, "grid_cells")
    assert (table.dataset, table.k, table.rows, table.values) == ("cifar10", 10, ["chimeramix-grid"], [1, 2, 4, 8])
    cell = table.cells["chimeramix-grid", 8]  # 38 and 40
    assert (cell.n, cell.mean, cell.std) == (2, pytest.approx(39.0), pytest.approx(math.sqrt(2)))
    assert table.references["baseline"].mean == pytest.approx(31.0)

    plot = tmp_path / "fig7.png"
    assert main(["table", "--store", str(store.root), "--over", "grid_cells", "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "| method | grid_cells=1 | grid_cells=2 | grid_cells=4 | grid_cells=8 |" in text
    assert "| chimeramix-grid | 32.00 ± 1.41 (n=2) | 33.00 ± 1.41 (n=2) |" in text
    assert "| baseline (reference) |" in text and plot.stat().st_size > 0
    assert main(["table", "--store", str(store.root), "--over", "grid_cells", "--format", "csv"]) == 0
    assert "cifar10,10,chimeramix-grid,8,2,39.0000,1.4142" in capsys.readouterr().out
    assert main(["table", "--store", str(store.root), "--over", "blocks", "--format", "latex"]) == 2


def test_glico_rows_read_their_stage_one_config(tmp_path: Path) -> None:
    """A classifier that depends on a GLICO stage-1 job: its recipe is read as a GLICO config (it once was read
    as a ChimeraMix generator's and refused)."""
    store = Store.create(tmp_path / "store")
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline", "glico"], [10], [0, 1], preset="quick"))
    store.merge_plan(jobs)
    for job in jobs:
        metrics = {"accuracy": 0.2 + 0.01 * job.config["data"]["seed"]} if job.kind == "classifier" else {}
        write_json(store.result_path(job.id), {"config": job.config, "final": {}, "metrics": metrics})
    (table,) = build_tables(load_results(store))
    assert table.methods == ["baseline", "glico"] and table.cells["glico", 10].n == 2


def test_supermix_rows_read_their_teachers_config(tmp_path: Path) -> None:
    """A SuperMix student depends on its teacher, a classifier job: the table reads the teacher's config as a
    classifier's (it was once read as a generator's and refused), and the scattering row beside it."""
    store = Store.create(tmp_path / "store")
    jobs = plan_sweep(SweepSpec(["cifar10"], ["baseline", "scattering", "supermix"], [10], [0, 1], preset="quick"))
    store.merge_plan(jobs)
    for job in jobs:
        write_json(store.result_path(job.id),
                   {"config": job.config, "metrics": {"accuracy": 0.2 + 0.01 * job.config["data"]["seed"]}})
    (table,) = build_tables(load_results(store), compare_paper=True)
    assert table.methods == ["baseline", "scattering", "supermix"]
    assert all(table.cells[method, 10].n == 2 for method in table.methods)
    assert table.cells["scattering", 10].paper is not None  # the paper's Scattering row (ciFAIR-10 column)


def test_paired_differences_to_the_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Per seed, method minus baseline on the same split: k = 5: +20, +16, +18; k = 10: +5, +9, +10."""
    store = fill_store(tmp_path / "store")
    rows = paired_rows(load_results(store), "baseline")
    assert [(row.k, row.method, row.seeds) for row in rows] == [(5, "chimeramix-grid", (0, 1, 2)),
                                                               (10, "chimeramix-grid", (0, 1, 2))]
    assert rows[0].differences == pytest.approx((20.0, 16.0, 18.0))
    assert (rows[0].mean, rows[0].std, rows[0].positive) == (pytest.approx(18.0), pytest.approx(2.0), 3)
    assert (rows[1].mean, rows[1].std) == (pytest.approx(8.0), pytest.approx(math.sqrt(7)))
    assert (rows[1].accuracy, rows[1].reference_accuracy) == (pytest.approx(46.0), pytest.approx(38.0))
    assert main(["table", "--store", str(store.root), "--paired", "baseline"]) == 0
    out = capsys.readouterr().out
    assert "| cifar10 | 5 | chimeramix-grid | 3 | 50.00 | 32.00 (baseline) | +18.00 ± 2.00 | 3/3 | s0 +20.00" in out
    assert main(["table", "--store", str(store.root), "--paired", "baseline", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("cifar10,5,chimeramix-grid,baseline,3,50.0000,")
    assert main(["table", "--store", str(store.root), "--paired", "mixup"]) == 2
    assert "no runs of the reference 'mixup'" in capsys.readouterr().err


def test_cells_give_their_test_images_and_a_wilson_interval() -> None:
    folds = Cell(n=3, mean=100.0, std=0.0, accuracies=(100.0,) * 3, test_images=(30, 30, 30), folds=True)
    low, high = folds.interval or (0, 0)  # 90 of 90 images over the folds: Wilson (95.9, 100)
    assert (round(low, 1), high) == (95.9, 100.0)
    assert folds.uncertainty_text() == "95 % interval 95.9-100.0 % on 90 test images over 3 folds"
    seeds = Cell(n=3, mean=50.0, std=2.0, accuracies=(48.0, 50.0, 52.0), test_images=(18,) * 3)
    assert seeds.uncertainty_text() == "95 % interval 29.0-71.0 % on 18 test images"  # 9 of 18: the shared set
    assert Cell(n=1, mean=50.0, std=math.nan).uncertainty_text() == "test images not recorded"


def test_the_best_line_of_compare_gives_every_method_its_images_interval_and_preset() -> None:
    table = ResultTable("folder:/photos", ["baseline", "chimeramix-grid"], [20], {
        ("baseline", 20): Cell(n=3, mean=51.11, std=16.44, accuracies=(43.33, 70.0, 40.0), test_images=(30,) * 3,
                               folds=True, preset="quick"),
        ("chimeramix-grid", 20): Cell(n=3, mean=100.0, std=0.0, accuracies=(100.0,) * 3, test_images=(30,) * 3,
                                      folds=True, preset="quick")})
    line = best_line(table, 20, "folds")
    assert line.startswith("best: chimeramix-grid 100.00 ± 0.00 % (n=3) over folds [95 % interval 95.9-100.0 % on "
                           "90 test images over 3 folds]; baseline 51.11 ± 16.44 % (n=3) [95 % interval ")
    assert line.endswith("; runs of the quick preset")


def test_error_bars_and_bands_stay_within_0_and_100_percent() -> None:
    table = ResultTable("cifar10", ["baseline"], [5, 10], {
        ("baseline", 5): Cell(n=3, mean=98.0, std=5.0), ("baseline", 10): Cell(n=3, mean=3.0, std=5.0)})
    axes = accuracy_figure([table]).axes[0]
    ys = [y for collection in axes.collections for path in collection.get_paths() for y in path.vertices[:, 1]]
    ys += [y for collection in axes.collections if hasattr(collection, "get_segments")
           for segment in collection.get_segments() for y in segment[:, 1]]
    assert ys and min(ys) == 0.0 and max(ys) == 100.0


def test_the_store_page_gives_test_images_intervals_and_the_preset(tmp_path: Path) -> None:
    page = store_page(fill_store(tmp_path / "store"))
    assert "ours: quick preset" in page and "not comparable with the paper&#x27;s numbers" in page
    assert "95 % interval 31.1-32.9 % on 10000 test images" in page  # baseline, k = 5: 32 % of 10,000
    assert "Best at k = 5: <b>chimeramix-grid</b> (50.00 ± 2.00 % (n=3); 95 % interval" in page
