"""The slurm launcher's checks that need no cluster: its options, the job function's name, clear errors
(``test_experiments_slurm_cluster.py`` runs sweeps on a real one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimeramix.cli import main
from chimeramix.errors import ChimeraMixError
from chimeramix.experiments.runner import train_jobs
from chimeramix.experiments.slurm import FIXED_OPTIONS, SlurmLauncher, import_name, import_object, sbatch_option


def test_sbatch_options_are_read_without_their_dashes_and_cannot_replace_the_launchers() -> None:
    assert sbatch_option("mem=16G", FIXED_OPTIONS) == "--mem=16G"
    assert sbatch_option("--qos=normal", FIXED_OPTIONS) == "--qos=normal"
    assert sbatch_option("exclusive", FIXED_OPTIONS) == "--exclusive"
    with pytest.raises(ChimeraMixError, match="--cpus-per-job"):
        sbatch_option("cpus-per-task=4", FIXED_OPTIONS | {"cpus-per-task"})
    with pytest.raises(ChimeraMixError, match="fixed"):
        sbatch_option("requeue", FIXED_OPTIONS)
    with pytest.raises(ChimeraMixError, match="without its dashes"):
        sbatch_option("mem 16G", FIXED_OPTIONS)


def test_whole_gpus_and_cpus_only() -> None:
    with pytest.raises(ChimeraMixError, match="--pack"):
        SlurmLauncher(gpus_per_job=0.25)
    with pytest.raises(ChimeraMixError, match="whole number of CPUs"):
        SlurmLauncher(cpus_per_job=1.5)


def test_without_sbatch_the_error_says_where_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChimeraMixError, match="needs SLURM's sbatch on PATH"):
        SlurmLauncher()


def test_batch_jobs_import_the_job_function_by_name() -> None:
    assert import_name(train_jobs) == "chimeramix.experiments.runner:train_jobs"
    assert import_object(import_name(train_jobs)) is train_jobs
    with pytest.raises(ChimeraMixError, match="module level"):
        import_name(lambda jobs, run_dirs, resume: None)


def test_slurm_options_need_the_slurm_launcher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "2", "--seeds", "0", "--store",
            str(tmp_path / "store"), "--slurm-partition", "gpu"]
    assert main(argv) == 2
    assert "are for --launcher slurm" in capsys.readouterr().err
