"""``chimeramix generator train`` and ``chimeramix generator sample`` on fabricated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chimeramix.cli import main
from chimeramix.methods.chimeramix.frozen_generator import generator_config

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_then_sample(tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    arguments = ["generator", "train", "--k", "2", "--data-root", str(tiny_data_root), "--out", str(run_dir),
                 "--mask", "seg", "--preset", "quick", "--epochs", "1", "--repetition", "2",
                 "--batch-size", "8", "--base-channels", "8", "--blocks", "2", "--mix-after", "1",
                 "--working-size", "32", "--architecture", "released", "--device", "cpu", "--no-progress"]
    assert main(arguments) == 0
    assert "reconstruction loss" in capsys.readouterr().out
    config = generator_config(run_dir)
    assert (config.preset, config.architecture, config.masks.kind, config.epochs) == ("quick", "released",
                                                                                    "seg", 1)
    assert main([*arguments, "--resume"]) == 0  # finished: prints the stored result

    picture = tmp_path / "sample.png"
    assert main(["generator", "sample", str(run_dir), "--n", "3", "--out", str(picture), "--device", "cpu"]) == 0
    width, height = Image.open(picture).size
    assert height > 3 * 32 and width > 5 * 32  # 3 rows of x1, x2 and three compositions
    assert np.asarray(Image.open(picture)).std() > 0


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generator", "sample", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("chimeramix: error:") and error.count("\n") == 1
