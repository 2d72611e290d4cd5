"""benchmarks/gpu_session.py, the GPU session's driver: what it packs for a continuation call (within the device
tool's limits) and restores, the deadline that stops a stage, a run that does not fit, and its reports. The whole
session runs on a CPU in scripts/gpu-stack-rehearsal.sh."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from chimeramix.checkpoint import latest_checkpoint

MiB = 2**20


def load_driver() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_session.py"
    spec = importlib.util.spec_from_file_location("gpu_session", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_session"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


driver = load_driver()


def write(path: Path, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def checkpoint(run: Path, epoch: int, size: int) -> None:
    folder = run / "checkpoints" / f"epoch-{epoch:04d}"
    write(folder / "model.safetensors", size)
    write(folder / "training.pt", 1000)
    (folder / "state.json").write_text(json.dumps({"epoch": epoch}))
    (run / "checkpoints" / "latest").write_text(f"epoch-{epoch:04d}\n")


def fake_store(root: Path, unfinished_checkpoint: int) -> Path:
    """A store as a stopped call leaves it: a finished generator and classifier, an unfinished classifier with a
    checkpoint, a claim of the stopped sweep."""
    store = root / "store"
    write(store / "store.json")
    write(store / "plan.json")
    write(store / "claims" / "cls-b.claim")
    write(store / "logs" / "gen.log")
    generator = store / "runs" / "gen"
    for name in ("config.json", "result.json", "log.csv", "compositions.png"):
        write(generator / name)
    write(generator / "generator.safetensors", 3 * MiB)
    write(generator / "discriminator.safetensors", 2 * MiB)
    checkpoint(generator, 10, 2 * MiB)
    finished = store / "runs" / "cls-a"
    write(finished / "config.json")
    write(finished / "result.json")
    write(finished / "model" / "weights.safetensors", 2 * MiB)
    unfinished = store / "runs" / "cls-b"
    write(unfinished / "config.json")
    checkpoint(unfinished, 4, unfinished_checkpoint)
    return store


def names(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_the_state_holds_what_a_continuation_needs_in_parts_under_the_limit(tmp_path: Path) -> None:
    store = fake_store(tmp_path, unfinished_checkpoint=MiB)
    out = tmp_path / "out"
    out.mkdir()
    state = driver.pack_state(store, out, limit=6 * MiB, part_bytes=MiB)
    assert len(state.parts) == 5 and all(part.stat().st_size <= MiB for part in state.parts)
    carried = tmp_path / "carried"
    carried.mkdir()
    for part in state.parts:
        (carried / part.name).write_bytes(part.read_bytes())
    restored = tmp_path / "restored"
    assert "restored from 5 carried state parts" in driver.restore_state(restored, carried)
    assert names(restored) == {
        "store.json", "plan.json", "logs/gen.log", "runs/gen/config.json", "runs/gen/result.json",
        "runs/gen/log.csv", "runs/gen/compositions.png", "runs/gen/generator.safetensors", "runs/cls-a/config.json",
        "runs/cls-a/result.json", "runs/cls-b/config.json", "runs/cls-b/checkpoints/epoch-0004/model.safetensors",
        "runs/cls-b/checkpoints/epoch-0004/training.pt", "runs/cls-b/checkpoints/epoch-0004/state.json",
        "runs/cls-b/checkpoints/latest"}
    assert (restored / "runs/gen/generator.safetensors").read_bytes() == (
        store / "runs/gen/generator.safetensors").read_bytes()
    assert latest_checkpoint(restored / "runs" / "cls-b") == restored / "runs/cls-b/checkpoints/epoch-0004"
    assert sorted(state.left_out) == [("runs/cls-a/model/weights.safetensors", 2 * MiB),
                                      ("runs/gen/discriminator.safetensors", 2 * MiB)]


def test_a_checkpoint_over_the_limit_stays_behind_whole(tmp_path: Path) -> None:
    """Its ``latest`` pointer too: the run then starts anew instead of failing on a missing checkpoint."""
    store = fake_store(tmp_path, unfinished_checkpoint=4 * MiB)
    out = tmp_path / "out"
    out.mkdir()
    state = driver.pack_state(store, out, limit=6 * MiB, part_bytes=MiB)
    checkpoints = store / "runs" / "cls-b" / "checkpoints"
    size = sum(path.stat().st_size for path in checkpoints.rglob("*") if path.is_file())  # with its pointer
    assert ("runs/cls-b/checkpoints/epoch-0004", size) in state.left_out
    restored = tmp_path / "restored"
    driver.restore_state(restored, out)
    assert (restored / "runs/gen/generator.safetensors").is_file()
    assert not (restored / "runs/cls-b/checkpoints").exists()
    assert latest_checkpoint(restored / "runs" / "cls-b") is None


def test_the_store_left_on_a_warm_machine_wins_over_carried_parts(tmp_path: Path) -> None:
    store = fake_store(tmp_path, unfinished_checkpoint=MiB)
    driver.pack_state(store, tmp_path)
    assert driver.restore_state(store, tmp_path).startswith("continuing the store left on this machine")
    assert driver.restore_state(tmp_path / "new", tmp_path / "nothing").startswith("a new store")
    (tmp_path / "state.tgz.0").unlink()
    (tmp_path / "state.tgz.1").write_bytes(b"")
    with pytest.raises(SystemExit, match=r"lacks state parts .* copy every state.tgz.N file"):
        driver.restore_state(tmp_path / "other", tmp_path)


def test_a_stage_past_the_deadline_is_stopped_and_one_that_ignores_it_killed(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    session = driver.Session(tmp_path / "out", deadline_s=60)
    started = time.monotonic()
    code, _ = session.call([sys.executable, "-c", "import time; time.sleep(60)"], limit_s=2)
    assert code is None and time.monotonic() - started < 20
    monkeypatch.setattr(driver, "STOP_GRACE_S", 1.0)
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); " \
               "time.sleep(60)"
    code, seconds = session.call([sys.executable, "-c", stubborn], limit_s=3)
    assert code is None and seconds < 20
    log = session.log.read_text()
    assert log.count("stopped after") == 2 and "up\n" in log
    assert session.call([sys.executable, "-c", "raise SystemExit(3)"], limit_s=30)[0] == 3


def test_a_run_that_does_not_fit_is_not_started(tiny_data_root: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With step times from steps.json, a sweep whose jobs need more than the time left is left for the next call,
    with what it needs; nothing is spawned."""
    monkeypatch.setenv("CHIMERAMIX_DATA", str(tiny_data_root))
    store = tmp_path / "store"
    store.mkdir()
    rows = [{"part": part, "path": "fast", "pack": 1, "ms_per_step": 50.0, "run_steps_per_s": 20.0}
            for part in ("generator", "classifier baseline", "classifier chimeramix-grid")]
    (store / "steps.json").write_text(json.dumps({"rows": rows}))
    session = driver.Session(tmp_path / "out", deadline_s=driver.RESERVE_S + 600)
    args = driver.argparse.Namespace(store=store, methods="baseline,chimeramix-grid", rehearsal=False)
    result = driver.runs(session, args)
    assert result.status == "stopped"
    # the paper's baseline: 200 epochs of 500 steps at 50 ms, plus the default 15 s of a CUDA run
    assert re.fullmatch(r"baseline: not started, it needs about 5015 s \(cls-cifar10-k10-s0-baseline-paper; "
                        r"100,000 steps\) and (5\d\d|600) s are left: continue in the next call", result.details[0])
    assert not session.log.exists() or "$ " not in session.log.read_text()


def test_reports_of_pytest_and_steps(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite><testcase classname="tests.a" name="ok"/>'
        '<testcase classname="tests.a" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="tests.b" name="gpu"><skipped message="needs CUDA"/></testcase>'
        '<testcase classname="" name="tests.c"><skipped message="collection skipped">(\'tests/c.py\', 3, '
        '"Skipped: could not import \'ray\'")</skipped></testcase>'
        "</testsuite></testsuites>")
    assert driver.pytest_outcomes(report) == {
        "passed": ["tests.a::ok"], "failed": ["tests.a::bad"],
        "skipped": ["tests.b::gpu: needs CUDA", "::tests.c: ('tests/c.py', 3, \"Skipped: could not import 'ray'\")"]}
    assert driver.pytest_outcomes(tmp_path / "missing.xml") == {"passed": [], "failed": [], "skipped": []}
    figures = tmp_path / "steps.json"
    figures.write_text(json.dumps({"rows": [
        {"part": "generator", "path": "reference", "pack": 1, "ms_per_step": 20.0, "run_steps_per_s": 50.0},
        {"part": "generator", "path": "fast", "pack": 1, "ms_per_step": 10.0, "run_steps_per_s": 100.0},
        {"part": "classifier baseline pack of 5", "path": "fast", "pack": 5, "ms_per_step": 5.0,
         "run_steps_per_s": 1000.0}]}))
    assert driver.step_table(figures)[2:] == ["| generator | 20.00 | 10.00 | 100.0 |",
                                              "| classifier baseline pack of 5 | - | 5.00 | 1000.0 |"]
    assert driver.measured_step_seconds(figures, fast=True) == {"generator": 0.01}


def test_the_session_runs_every_module_with_cuda_tests() -> None:
    tests = Path(__file__).resolve().parent
    marked = {f"tests/{path.name}" for path in tests.glob("test_*.py")
              if "mark.cuda" in path.read_text() and path.name != Path(__file__).name}
    assert marked == {name for name in driver.CUDA_TESTS if name.startswith("tests/")}


def test_a_call_makes_its_store_first_and_brings_back_few_files(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The store exists (store.json) before any stage writes into it (steps.json; a sweep refuses a folder
    without store.json, which the rehearsal found); a call's output folder holds at most 8 files, the summary
    last on the console."""
    out, store = tmp_path / "out", tmp_path / "gpu-store"
    assert driver.main(["--out", str(out), "--stages", "", "--store", str(store), "--carried", str(tmp_path),
                        "--commit", "abc1234"]) == 0
    assert json.loads((store / "store.json").read_text()) == {"format": 1}
    assert {path.name for path in out.iterdir()} == {"session.log", "results.json", "summary.md", "state.tgz.0"}
    summary = (out / "summary.md").read_text()
    assert summary.startswith("### ") and ", commit abc1234 (benchmarks/gpu-session.sh)" in summary
    assert capsys.readouterr().out.rstrip().endswith(summary.rstrip())
