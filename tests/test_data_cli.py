"""``chimeramix data list / split`` and the bad inputs: one clear line on stderr and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chimeramix.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_found_and_missing_datasets(
    tiny_data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["data", "list", "--data-root", str(tiny_data_root)], capsys)
    assert code == 0
    cifar10 = next(line for line in out.splitlines() if line.startswith("cifar10 "))
    assert "train 120, test 30; 8x8 px; 10 classes: class0, class1" in cifar10
    assert "cifair10   not prepared" in out


def test_list_marks_a_pack(tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["data", "pack", "cifar10", "--k", "1", "--seeds", "0", "--data-root", str(tiny_data_root)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    _, out, _ = run(["data", "list", "--data-root", str(tmp_path)], capsys)
    assert "train 10 of 120 (pack), test 30" in out


def test_split_prints_indices_and_writes_a_preview(
    tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preview = tmp_path / "preview.png"
    argv = ["data", "split", "cifar10", "--k", "3", "--seed", "1", "--data-root", str(tiny_data_root)]
    code, out, _ = run([*argv, "--preview", str(preview)], capsys)
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("class")]
    assert [row[0] for row in rows] == [f"class{c}" for c in range(10)] and all(len(row) == 4 for row in rows)
    labels = np.load(tiny_data_root / "cifar10" / "train.npz")["labels"]
    assert all((labels[[int(i) for i in row[1:]]] == c).all() for c, row in enumerate(rows))
    tile = 8 * 8 + 2  # 8 px images enlarged 8 times, 2 px padding
    assert Image.open(preview).size == (3 * tile + 2, 10 * tile + 2)


def test_folder_of_odd_image_modes_is_converted_not_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        (tmp_path / "set" / name).mkdir(parents=True)
        Image.new("L", (9, 7)).save(tmp_path / "set" / name / "grey.png")
        Image.new("RGBA", (7, 9)).save(tmp_path / "set" / name / "rgba.png")
        Image.new("P", (8, 8)).save(tmp_path / "set" / name / "palette.png")
        Image.fromarray(np.zeros((5, 5), dtype=np.uint16)).save(tmp_path / "set" / name / "deep.png")
    code, out, err = run(["data", "split", f"folder:{tmp_path / 'set'}", "--k", "3"], capsys)
    assert code == 0 and "error" not in err  # warnings about the tiny test split may come
    assert out.count("\n") == 3


def make_bad_folder(root: Path, problem: str) -> str:
    """A folder dataset with one problem; returns its dataset name."""
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i, i, i)).save(root / name / f"{i}.png")
    if problem == "empty class":
        (root / "c").mkdir()
    else:
        (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
        (root / "b" / "notes.png").write_text("not a picture")
    return f"folder:{root}"


BAD_INPUTS = {
    "unknown dataset": (lambda t: ["data", "split", "cifar11", "--k", "5"], "unknown dataset 'cifar11'"),
    "unknown pack dataset": (
        lambda t: ["data", "pack", "mnist", "--out", str(t / "out")],
        "unknown dataset 'mnist'",
    ),
    "unknown prepare dataset": (lambda t: ["data", "prepare", "imagenet"], "unknown dataset 'imagenet'"),
    "missing data root": (
        lambda t: ["data", "split", "cifar10", "--k", "5", "--data-root", str(t / "nowhere")],
        "nowhere does not exist",
    ),
    "empty data root": (
        lambda t: ["data", "split", "cifar10", "--k", "5", "--data-root", str(t)],
        "is empty",
    ),
    "list missing root": (lambda t: ["data", "list", "--data-root", str(t / "nowhere")], "does not exist"),
    "list empty root": (lambda t: ["data", "list", "--data-root", str(t)], "is empty"),
    "dataset not prepared": (
        lambda t: ["data", "split", "stl10", "--k", "5", "--data-root", "TINY"],
        "stl10 is not prepared in",
    ),
    "k too large": (
        lambda t: ["data", "split", "cifar10", "--k", "13", "--data-root", "TINY"],
        "k = 13 images per class is more than the smallest class holds (12)",
    ),
    "negative seed": (
        lambda t: ["data", "split", "cifar10", "--k", "2", "--seed", "-1", "--data-root", "TINY"],
        "seed must be a non-negative integer",
    ),
    "negative pack seed": (
        lambda t: [
            "data",
            "pack",
            "cifar10",
            "--seeds",
            "-1",
            "--k",
            "2",
            "--out",
            str(t),
            "--data-root",
            "TINY",
        ],
        "seed must be a non-negative integer",
    ),
    "bad integer list": (
        lambda t: ["data", "pack", "cifar10", "--k", "five", "--out", str(t), "--data-root", "TINY"],
        "cannot read 'five' as a list of integers",
    ),
    "empty class folder": (
        lambda t: ["data", "split", make_bad_folder(t / "set", "empty class"), "--k", "1"],
        "class folder(s) ",
    ),
    "unreadable images": (
        lambda t: ["data", "split", make_bad_folder(t / "set", "bad files"), "--k", "1"],
        "2 file(s) in ",
    ),
    "missing image folder": (
        lambda t: ["data", "split", f"folder:{t / 'absent'}", "--k", "1"],
        "absent does not exist",
    ),
    "bad mirror": (
        lambda t: ["data", "prepare", "stl10", "--data-root", str(t), "--mirror", "ftp:/x"],
        "neither an existing folder nor an http(s)/file URL",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(
    case: str, tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, expected = BAD_INPUTS[case]
    argv = [str(tiny_data_root) if arg == "TINY" else arg for arg in build(tmp_path)]
    code, _, err = run(argv, capsys)
    assert code != 0
    assert err.startswith("chimeramix: error: ") and err.count("\n") == 1
    assert expected in err
    if case == "unreadable images":
        assert "a/broken.jpg" in err and "b/notes.png (not an image)" in err
    if case == "empty class folder":
        assert str(tmp_path / "set" / "c") in err
