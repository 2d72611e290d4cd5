"""Every failure a user can cause ends in one line that names the problem and the fix, and a non-zero exit
code; interrupted commands say what resumes them, and that command works.

Read-only folders: root ignores directory permissions, so where the tests run as root the folder's writes are
refused by a patched ``os.open`` / ``mkdir`` (the same errors the kernel gives), and by permissions otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chimeramix.cli import main
from chimeramix.experiments.store import DEFAULT_STALE_AFTER_S
from chimeramix.train import loop as loop_module
from chimeramix.train import run as run_module
from conftest import CheckpointStop

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--dataset", "cifar10", "--k", "2", "--preset", "quick", "--epochs", "1", "--repetition", "2",
        "--batch-size", "8", "--device", "cpu", "--no-progress"]
CLASSIFIER = [*TINY, "--architecture", "wrn-10-1"]
GENERATOR = [*TINY, "--base-channels", "4", "--blocks", "2", "--mix-after", "1", "--working-size", "32"]


def one_line_error(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    error = capsys.readouterr().err
    assert error.startswith("chimeramix: ") and error.count("\n") == 1, error
    for fragment in fragments:
        assert fragment in error, error
    return error


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A read-only folder (by permissions, or for root by refusing writes under it)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(folder, os.W_OK):  # root: permissions do not stop it
        inside = str(folder)

        def refuse(path: Any) -> None:
            if os.fspath(path).startswith(inside):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

        real_open, real_mkdir = os.open, os.mkdir

        def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                refuse(path)
            return real_open(path, flags, *args, **kwargs)

        def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            refuse(path)
            real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(os, "mkdir", mkdir)
    yield folder
    folder.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("command", [
    ["classifier", "train", *CLASSIFIER, "--out", "{ro}/cls"],
    ["generator", "train", *GENERATOR, "--out", "{ro}/gen"],
    ["run", *CLASSIFIER, "--out", "{ro}/runs"],
    ["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "2", "--seeds", "0", "--preset", "quick",
     "--store", "{ro}/store"],
    ["data", "split", "cifar10", "--k", "2", "--preview", "{ro}/split.png"],
    ["data", "prepare", "cifar100", "--data-root", "{ro}"],
])
def test_unwritable_outputs_are_one_line_errors(command: list[str], read_only: Path, tiny_data_root: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv = [part.replace("{ro}", str(read_only)) for part in command]
    if "--data-root" not in argv:
        argv += ["--data-root", str(tiny_data_root)]
    assert main(argv) == 2
    one_line_error(capsys, str(read_only), "writ")


def test_a_full_disk_is_a_one_line_error_that_keeps_the_run(tiny_data_root: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "cls" / "checkpoints"))

    monkeypatch.setattr(run_module, "save_checkpoint", full)
    argv = ["classifier", "train", *CLASSIFIER, "--data-root", str(tiny_data_root), "--out", str(tmp_path / "cls")]
    assert main(argv) == 2
    one_line_error(capsys, "no space left", "free some disk space", "rerun the same command")
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0  # nothing was corrupted: the same run starts again and finishes


def test_run_folders_of_the_wrong_kind_say_what_they_are(tiny_data_root: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-root", str(tiny_data_root)]
    assert main(["classifier", "train", *CLASSIFIER, *data, "--out", str(tmp_path / "cls")]) == 0
    assert main(["generator", "train", *GENERATOR, *data, "--out", str(tmp_path / "gen")]) == 0
    capsys.readouterr()
    assert main(["classifier", "train", *CLASSIFIER, *data, "--method", "chimeramix-grid",
                 "--generator", str(tmp_path / "cls"), "--out", str(tmp_path / "other")]) == 2
    one_line_error(capsys, "holds a classifier run, not a generator run")
    assert main(["generator", "sample", str(tmp_path / "cls"), "--out", str(tmp_path / "x.png")]) == 2
    one_line_error(capsys, "holds a classifier run, not a generator run")
    assert main(["classifier", "train", *CLASSIFIER, *data, "--out", str(tmp_path / "gen"), "--resume"]) == 2
    one_line_error(capsys, "holds a generator run, not a classifier run")


def test_too_small_a_working_size_is_refused(tiny_data_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generator", "train", *GENERATOR, "--working-size", "16", "--data-root", str(tiny_data_root),
            "--out", str(tmp_path / "gen")]
    assert main(argv) == 2
    one_line_error(capsys, "working size", "--working-size 32")


def test_interrupt_hints_name_a_command_that_resumes(tiny_data_root: Path, tmp_path: Path,
                                                    checkpoint_stop: CheckpointStop,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-root", str(tiny_data_root)]
    train = ["classifier", "train", *CLASSIFIER, *data, "--epochs", "2", "--checkpoint-every", "1",
             "--out", str(tmp_path / "cls")]
    checkpoint_stop.after(run_module, error=KeyboardInterrupt)
    assert main(train) == 130
    assert "rerun the same command with --resume" in capsys.readouterr().err
    checkpoint_stop.undo()
    assert main([*train, "--resume"]) == 0

    run = ["run", *CLASSIFIER, *data, "--epochs", "2", "--checkpoint-every", "1", "--out", str(tmp_path / "runs")]
    checkpoint_stop.after(run_module, error=KeyboardInterrupt)
    assert main(run) == 130
    error = capsys.readouterr().err
    assert "rerun the same command to continue" in error and "--resume" not in error
    assert "interrupted at step 3 of 6; a rerun resumes from its checkpoint epoch-0001" in error
    checkpoint_stop.undo()
    assert main(run) == 0
    out, error = capsys.readouterr()
    assert "accuracy" in out and "resumed from its checkpoint after epoch 1 of 2 (step 3 of 6)" in error


def test_an_interrupt_before_the_first_checkpoint_says_that_the_rerun_starts_over(
        tiny_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module, "check_step", interrupt)  # Ctrl-C during the first step
    run = [arg for arg in CLASSIFIER if arg != "--no-progress"]  # the progress bar is on
    assert main(["run", *run, "--data-root", str(tiny_data_root), "--out", str(tmp_path / "runs")]) == 130
    error = capsys.readouterr().err
    assert "interrupted at step 1 of 3, before its first checkpoint: a rerun starts it at step 0" in error
    assert "resume from their last checkpoint" not in error
    assert "\nchimeramix: interrupted; rerun the same command to continue" in error  # on a line of its own


def test_a_damaged_bundle_is_rebuilt_by_a_rerun_and_by_its_first_use(tiny_data_root: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = ["run", *CLASSIFIER, "--data-root", str(tiny_data_root), "--out", str(tmp_path / "runs")]
    assert main(run) == 0
    weights = next((tmp_path / "runs").glob("classifier-*")) / "model" / "weights.safetensors"
    intact = weights.read_bytes()
    weights.write_bytes(intact[: len(intact) // 2])
    capsys.readouterr()
    assert main(run) == 0
    out, error = capsys.readouterr()
    assert "reused" in out and f"{weights} was damaged" in error
    assert "rebuilt it from the run's last checkpoint" in error
    assert weights.read_bytes() == intact
    weights.write_bytes(b"garbage")
    assert main(["export", str(weights.parents[1]), "--format", "torchscript"]) == 0
    assert weights.read_bytes() == intact


def test_help_texts_show_percent_signs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "95 % Wilson interval" in " ".join(out.split()) and "%%" not in out


def test_the_readme_gives_the_defaults_of_the_code() -> None:
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert f"(`--stale-after`, default {DEFAULT_STALE_AFTER_S:.0f} s;" in readme


def sweep_command(store: Path, data_root: Path) -> list[str]:
    return [sys.executable, "-m", "chimeramix", "sweep", "--datasets", "cifar10", "--methods", "baseline",
            "--k", "2", "--seeds", "0", "--preset", "quick", "--device", "cpu", "--data-root", str(data_root),
            "--classifier-set", "architecture=wrn-10-1", "--classifier-set", "epochs=40",
            "--classifier-set", "batch_size=8", "--store", str(store), "--no-progress"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_sweep_stops_its_workers_and_a_rerun_resumes(signum: int, tiny_data_root: Path,
                                                                 tmp_path: Path) -> None:
    """SIGTERM (a job scheduler) or SIGINT to the sweep process alone stop it as Ctrl-C does: its workers
    stop, it says what resumes, and that command does. The signal comes once the job has logged its first
    epoch, of 40 (an idle machine trains the tiny job in seconds: a fixed wait could miss it)."""
    store = tmp_path / "store"
    command = sweep_command(store, tiny_data_root)
    # SIGINT as a terminal gives it: a shell's background job (`cmd &`) starts with SIGINT ignored, and the sweep
    # would inherit that from pytest.
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        claims = store / "claims"
        deadline = time.monotonic() + 120
        while not (claims.is_dir() and any(claims.glob("*.claim"))):
            assert time.monotonic() < deadline and sweep.poll() is None, sweep.communicate()
            time.sleep(0.2)
        claim = next(claims.glob("*.claim"))
        worker = json.loads(claim.read_text())["pid"]
        while not any(len(log.read_text().splitlines()) > 1 for log in store.glob("runs/*/log.csv")):
            assert time.monotonic() < deadline and sweep.poll() is None, sweep.communicate()
            time.sleep(0.05)
        sweep.send_signal(signum)
        _, error = sweep.communicate(timeout=60)
    finally:  # a failed wait leaves no sweep training on (its worker dies with it)
        if sweep.poll() is None:
            sweep.kill()
            sweep.communicate()
    assert sweep.returncode == 130, error
    assert "interrupted; rerun the same command to continue" in error
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "1 of 1 jobs finished (1 by this sweep)" in rerun.stdout


BAD_INPUTS = [
    (["classifier", "train", "--dataset", "imagenet", "--k", "2", "--out", "{tmp}/a"], "unknown dataset 'imagenet'"),
    (["classifier", "train", "--k", "50", "--data-root", "{data}", "--out", "{tmp}/a", "--preset", "quick"],
     "more than the smallest class holds"),
    (["classifier", "train", "--k", "2", "--seed", "-1", "--data-root", "{data}", "--out", "{tmp}/a",
      "--preset", "quick"], "seed must be a non-negative integer"),
    (["classifier", "train", "--k", "2", "--method", "fancymix", "--out", "{tmp}/a"], "unknown method 'fancymix'"),
    (["classifier", "train", "--k", "2", "--method", "mixup+cutmix", "--out", "{tmp}/a"], "two mixing methods"),
    (["classifier", "train", "--k", "2", "--method", "chimeramix-grid", "--data-root", "{data}", "--preset",
      "quick", "--out", "{tmp}/a"], "needs a trained generator; pass --generator"),
    (["classifier", "train", "--k", "2", "--method", "chimeramix-grid", "--generator", "{tmp}/none", "--data-root",
      "{data}", "--preset", "quick", "--out", "{tmp}/a"], "is not a finished generator run"),
    (["generator", "sample", "{tmp}", "--out", "{tmp}/x.png"], "is not a chimeramix run folder"),
    (["generator", "train", "--kind", "glico", "--k", "2", "--mask", "seg", "--out", "{tmp}/g"],
     "--kind glico takes none of --mask (--kind chimeramix)"),
    (["generator", "train", "--k", "2", "--gamma", "0.3", "--out", "{tmp}/g"],
     "--kind chimeramix takes none of --gamma (--kind glico)"),
    (["classifier", "train", "--k", "2", "--data-root", "{tmp}/nothing", "--preset", "quick", "--out", "{tmp}/a"],
     "chimeramix data prepare"),
    (["data", "prepare", "folder:{tmp}"], "needs no preparation"),
    (["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "5,x", "--seeds", "0", "--store",
      "{tmp}/s"], "cannot read '5,x' as a list of integers"),
    (["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "5", "--seeds", "0", "--store", "{tmp}/s",
      "--classifier-set", "colour=blue"], "unknown ClassifierConfig override keys ['colour']"),
    (["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "5", "--seeds", "0", "--store", "{tmp}/s",
      "--preset", "quick", "--workers", "0"], "--workers must be at least 1"),
    (["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "5", "--seeds", "0", "--store", "{tmp}/s",
      "--pack", "0"], "--pack must be at least 1"),
    (["sweep", "--file", "{tmp}/missing.yaml", "--store", "{tmp}/s"], "cannot read sweep file"),
    (["sweep", "--datasets", "cifar10", "--methods", "baseline", "--k", "2", "--seeds", "0", "--store", "{tmp}/s",
      "--preset", "quick", "--data-root", "{tmp}/nothing"], "chimeramix data prepare cifar10"),  # before any job
    (["classifier", "train", "--k", "2", "--method", "chimeramix-seg-n1", "--out", "{tmp}/a"], "fewer than 2 images"),
    (["table", "--store", "{tmp}/no-store"], "{tmp}/no-store"),
    (["generator", "train", *GENERATOR, "--working-size", "16", "--data-root", "{data}", "--out", "{tmp}/g"],
     "--working-size 32 or more"),
    (["analyze", "fid", "{tmp}", "--inception", "{tmp}/pt_inception.pth", "--out", "{tmp}/f"],
     "chimeramix never downloads them"),
    (["analyze", "fid", "{tmp}", "--features", "{tmp}", "--out", "{tmp}/f"], "is not a chimeramix run folder"),
    (["analyze", "embed", "{tmp}", "--features", "{tmp}", "--out", "{tmp}/f"], "is not a chimeramix run folder"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD_INPUTS, ids=[" ".join(argv[:3]) + f" [{fragment[:24]}]"
                                                                 for argv, fragment in BAD_INPUTS])
def test_bad_inputs_are_one_line_errors(argv: list[str], fragment: str, tiny_data_root: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{data}", str(tiny_data_root))

    assert main([fill(part) for part in argv]) == 2
    one_line_error(capsys, fill(fragment))
