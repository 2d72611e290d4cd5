"""One real sweep (generator + two classifiers) through the CLI on fabricated 8 px data, then its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimeramix.cli import main
from chimeramix.experiments.store import Store

TINY = [
    "--generator-set", "epochs=1", "--generator-set", "repetition=1", "--generator-set", "base_channels=8",
    "--generator-set", "working_size=32",
    "--classifier-set", "epochs=1", "--classifier-set", "repetition=1",
    "--classifier-set", "architecture=wrn-10-1",
    "--classifier-set", "allow_mismatch=true",  # the generator works at 32 px, not the protocol's 64
]


@pytest.mark.slow
def test_real_sweep_and_table(
    tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", "baseline,chimeramix-grid", "--k", "2",
            "--seeds", "0",
            "--preset", "quick", "--store", str(store), "--data-root", str(tiny_data_root), "--device", "cpu",
            "--workers", "2", "--no-progress", *TINY]
    assert main(argv) == 0
    assert "3 of 3 jobs finished (3 by this sweep)" in capsys.readouterr().out
    finished = Store.open(store)
    assert all(finished.is_finished(job_id) for job_id in finished.load_plan())
    assert main(argv) == 0  # a rerun finds everything finished
    assert "3 of 3 jobs finished (0 by this sweep)" in capsys.readouterr().out

    assert main(["table", "--store", str(store)]) == 0
    table = capsys.readouterr().out
    assert "| baseline |" in table and "| chimeramix-grid |" in table and "(n=1)" in table


@pytest.mark.slow
def test_real_sweep_trains_packs(tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", "baseline,chimeramix-grid", "--k", "2",
            "--seeds", "0-2", "--pack", "2", "--preset", "quick", "--store", str(store), "--data-root",
            str(tiny_data_root), "--device", "cpu", "--no-progress", *TINY]
    assert main(argv) == 0
    assert "9 of 9 jobs finished (9 by this sweep)" in capsys.readouterr().out
    finished = Store.open(store)
    runs = sorted((job.kind, job.config.get("method", ""), job.config["data"]["seed"], job.id)
                  for job in finished.load_plan().values())
    pack_sizes = [finished.result(job_id)["pack_size"] for *_, job_id in runs]
    assert pack_sizes == [2] * 6 + [2, 2, 1]  # 6 classifiers (2 methods of one batch form) by 2; generators 2 + 1
    logs = [finished.log_path(job_id).read_text() for *_, job_id in runs]
    assert sum("pack of 2" in log for log in logs) == sum("in a pack; output in" in log for log in logs) == 4
