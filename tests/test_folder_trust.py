"""Folders you can trust: content fingerprints, refusals and warnings, skipped and unreadable files, TIFF and
nested folders, folds, run-folder names and the size chosen from the images (folders of real photos)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.data import load_data_split
from chimeramix.data.folder import FolderOptions, load_folder_split
from chimeramix.errors import ChimeraMixError
from chimeramix.resolution import resolve_data
from chimeramix.train import run as run_module
from conftest import CheckpointStop, Interrupt
from photos import add_broken_files, make_photo_folder, photo_crops

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_RUN = ["--preset", "quick", "--epochs", "1", "--repetition", "1", "--batch-size", "8", "--architecture",
            "wrn-10-1", "--folder-image-size", "8", "--device", "cpu", "--no-progress"]


def folder_data(path: Path, **values: object) -> DataConfig:
    return resolve_data(DataConfig(f"folder:{path}", k=2, **values))  # type: ignore[arg-type]


def test_the_fingerprint_follows_the_bytes_not_the_file_times(tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=3)
    first = folder_data(photos).fingerprint
    assert first is not None and len(first) == 16
    some = next((photos / "coffee").glob("*.png"))
    some.touch()  # a new modification time, the same bytes
    assert folder_data(photos).fingerprint == first
    photo_crops("coffee", 1, 20, seed=7)[0].save(photos / "coffee" / "new.png")
    assert folder_data(photos).fingerprint != first


def test_a_changed_folder_is_a_new_run_never_a_reused_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "my photos", per_class=4)
    assert main(["run", "--dataset", f"folder:{photos}", "--out", str(tmp_path / "runs"), *TINY_RUN]) == 0
    out = capsys.readouterr().out
    assert "3 classes (astronaut, chelsea, coffee), 9 train and 3 test images" in out and "k = 3 per class" in out
    assert "accuracy" in out and "on 3 test images (95 % interval" in out
    for i in range(2):
        photo_crops("chelsea", 2, 20, seed=9)[i].save(photos / "chelsea" / f"added-{i}.png")
    assert main(["run", "--dataset", f"folder:{photos}", "--out", str(tmp_path / "runs"), *TINY_RUN]) == 0
    assert "reused" not in capsys.readouterr().out
    names = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert len(names) == 2 and all(name.startswith("classifier-folder-my_photos-") for name in names)
    assert all("tmp" not in name for name in names)  # the base name and a short hash, not the whole path


def test_a_resumed_run_refuses_a_folder_whose_content_changed(tmp_path: Path, checkpoint_stop: CheckpointStop) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    config = ClassifierConfig(data=replace(folder_data(photos, folder_image_size=8), k=3), architecture="wrn-10-1",
                              epochs=2, repetition=1, batch_size=8, checkpoint_every=1, device="cpu")
    checkpoint_stop.after(run_module)
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "run", progress=False)
    checkpoint_stop.undo()
    (photos / "coffee" / "coffee-00.png").write_bytes((photos / "coffee" / "coffee-01.jpg").read_bytes())
    with pytest.raises(ChimeraMixError, match=r"the images in .* have changed since this run was set up"):
        train_classifier(config, tmp_path / "run", resume=True, progress=False)


def test_tiff_nested_folders_and_skipped_files_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=3)
    (photos / "astronaut" / "deep" / "deeper").mkdir(parents=True)
    photo_crops("astronaut", 1, 20, seed=3)[0].save(photos / "astronaut" / "deep" / "deeper" / "scan.tif")
    (photos / "astronaut" / "notes.txt").write_text("a note")
    Image.new("RGB", (8, 8)).save(photos / "coffee" / "anim.gif")
    (photos / "coffee" / ".hidden.png").write_bytes(b"ignored")
    with caplog.at_level(logging.WARNING, "chimeramix.data"):
        train = load_folder_split(photos, "train", FolderOptions(image_size=8))
        test = load_folder_split(photos, "test", FolderOptions(image_size=8))
    assert (train.class_counts() + test.class_counts()).tolist() == [4, 3, 3]  # the TIFF and the more/ files count
    skipped = f"skipped 2 file(s) of {photos} that are not images the loader reads (1 .gif, 1 .txt)"
    assert skipped in caplog.text and caplog.text.count(skipped) == 1  # warned once, not per split
    assert any(note.startswith(skipped) for note in test.notes)


def test_unreadable_files_stop_the_load_or_are_left_out_and_listed(tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=3)
    add_broken_files(photos / "chelsea")
    with pytest.raises(ChimeraMixError, match=r"^3 file\(s\) in .* cannot be read as images: chelsea/empty.png "
                       r"\(not an image\); .*pass --skip-unreadable to leave them out$"):
        load_folder_split(photos, "train", FolderOptions(image_size=8))
    test = load_folder_split(photos, "test", FolderOptions(image_size=8, skip_unreadable=True))
    train = load_folder_split(photos, "train", FolderOptions(image_size=8, skip_unreadable=True))
    assert len(train) + len(test) == 9
    note = next(note for note in test.notes if note.startswith("left out 3 unreadable file(s)"))
    assert "chelsea/text.jpg (not an image)" in note and "chelsea/truncated.png" in note


def test_a_class_without_test_images_and_a_tiny_test_split_are_warned(tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "set" / "train", per_class=3)
    make_photo_folder(tmp_path / "set" / "test", per_class=1, classes=("astronaut", "coffee"))
    (tmp_path / "set" / "test" / "chelsea").mkdir()
    test = load_folder_split(tmp_path / "set", "test", FolderOptions(image_size=8))
    assert test.class_counts().tolist() == [1, 0, 1]
    assert any("chelsea have no test image: their accuracy is not measured" in note for note in test.notes)
    assert any("the test split holds only 2 images (fewer than 100)" in note for note in test.notes)


def test_folds_partition_every_class(tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=7)
    tests = [load_folder_split(photos, "test", FolderOptions(image_size=8, folds=3, fold=f)) for f in range(3)]
    assert [t.class_counts().tolist() for t in tests] == [[3, 3, 3], [2, 2, 2], [2, 2, 2]]
    pixels = {image.tobytes() for t in tests for image in t.images}
    assert len(pixels) == 21  # every image in exactly one test fold
    data = replace(folder_data(photos, folder_image_size=8, folder_folds=3), seed=1)
    assert np.array_equal(load_data_split(data, "test").images, tests[1].images)  # seed s: fold s
    with pytest.raises(ChimeraMixError, match="fold 3 of 3 folds does not exist"):
        load_data_split(replace(data, seed=3), "test")


def test_the_image_size_is_chosen_from_the_images_and_said(tmp_path: Path) -> None:
    small = folder_data(make_photo_folder(tmp_path / "small", per_class=2, side=20))
    photos = folder_data(make_photo_folder(tmp_path / "photos", per_class=2, side=120))
    assert small.folder_image_size == 32
    assert "small images (median shorter side 20 px < 96)" in str(small.image_size_choice)
    assert photos.folder_image_size == 96 and "STL-10 protocol" in str(photos.image_size_choice)
    given = folder_data(tmp_path / "photos", folder_image_size=48)
    assert given.folder_image_size == 48 and given.image_size_choice is None


@pytest.mark.parametrize(("layout", "fragment"), [
    ({"astronaut": 3, "coffee": 0}, "coffee hold no images (.bmp, .jpeg, .jpg, .png, .tif, .tiff, .webp); add images"),
    ({"astronaut": 3, "coffee": 1}, "coffee hold a single image; a class needs at least two"),
    ({"astronaut": 3}, "has a single class folder (astronaut); a classifier needs at least two classes"),
    ({"astronaut": 3, "coffee": 3, "broken": 0}, "cannot be read as images: broken/empty.png (not an image)"),
])
def test_bad_folders_are_one_line_errors_that_name_the_fix(
    layout: dict[str, int], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    for name, count in layout.items():
        (photos / name).mkdir(parents=True)
        if name == "broken":
            add_broken_files(photos / name)
        elif count:
            make_photo_folder(photos, per_class=count, classes=(name,))
    assert main(["run", "--dataset", f"folder:{photos}", "--out", str(tmp_path / "runs"), *TINY_RUN]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chimeramix: error: ") and fragment in err and err.count("\n") == 1


def test_run_with_folds_trains_every_fold_and_gives_mean_and_std(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    argv = ["run", "--dataset", f"folder:{photos}", "--folds", "2", "--out", str(tmp_path / "runs"), *TINY_RUN]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fold 0 of 2 as test (cross-validation)" in out and "k = 2 per class" in out
    assert out.count("\nresult: ") == 2 and "(mean ± sample std over 2 folds)" in out
    names = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert [name.split("-k2-")[1] for name in names] == ["seed0-baseline-quick", "seed1-baseline-quick"]
    assert all(name.startswith("classifier-folder-photos-cv2-") for name in names)


def test_every_image_is_read_before_any_job_and_counts_are_of_readable_images(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    (photos / "coffee" / "notes.txt").write_text("a note")
    (photos / "chelsea" / "truncated.png").write_bytes(add_broken_files(tmp_path / "broken")[0].read_bytes())
    store = tmp_path / "store"
    compare = ["compare", f"folder:{photos}", "--folds", "3", "--preset", "quick", "--store", str(store)]
    assert main([*compare, "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert "cannot be read as images: chelsea/truncated.png" in error and "--skip-unreadable" in error
    assert "skipped 1 file(s)" in error and "(1 .txt)" in error
    assert main(compare) == 2 and not store.exists()  # stopped before the plan, no job started
    capsys.readouterr()
    sweep = ["sweep", "--datasets", f"folder:{photos}", "--methods", "baseline", "--k", "2", "--seeds", "0",
             "--preset", "quick", "--store", str(store), "--dry-run"]
    assert main(sweep) == 2 and "chelsea/truncated.png" in capsys.readouterr().err
    assert main([*compare, "--dry-run", "--skip-unreadable"]) == 0
    out, error = capsys.readouterr()
    train, test = re.search(r"(\d+) train and (\d+) test images", out).groups()  # type: ignore[union-attr]
    assert "left out 1 unreadable file(s)" in error and int(train) + int(test) == 12  # the readable ones, not 13


@pytest.mark.parametrize(("argv", "fragment"), [
    (["run", "--dataset", "{photos}"], "to train on the images of the folder {photos}, give folder:{photos}"),
    (["run", "--dataset", "folder:{photos}/coffee/coffee-00.png"], "names a file, not a folder"),
    (["compare", "folder:{photos}", "--folds", "3", "--seeds", "0-4"], "--seeds and --folds 3 exclude each other"),
    (["run", "--dataset", "folder:{photos}", "--folds", "3", "--seed", "2"], "--seed 2 and --folds 3 exclude"),
    (["compare", "folder:{photos}", "--folds", "5"], "--folds 5 is more folds than class astronaut has images (4)"),
])
def test_folder_mistakes_are_named_before_anything_runs(argv: list[str], fragment: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    fill = [part.replace("{photos}", str(photos)) for part in argv]
    assert main([*fill, "--dry-run"] if fill[0] == "compare" else [*fill, *TINY_RUN]) == 2
    error = capsys.readouterr().err
    assert error.startswith("chimeramix: error: ") and fragment.replace("{photos}", str(photos)) in error


def test_few_test_images_per_fold_are_said_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "photos", per_class=4)
    assert main(["compare", f"folder:{photos}", "--folds", "4", "--dry-run", "--store", str(tmp_path / "s")]) == 0
    assert "each of the 4 folds tests on only 3 images (fewer than 100)" in capsys.readouterr().err


def test_runs_record_the_absolute_folder_and_a_moved_one_is_named_with_the_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    photos = make_photo_folder(tmp_path / "work" / "photos", per_class=4)
    monkeypatch.chdir(tmp_path / "work")
    assert main(["run", "--dataset", "folder:photos", "--out", "runs", *TINY_RUN]) == 0
    run = next((tmp_path / "work" / "runs").iterdir())
    for values in (json.loads((run / "config.json").read_text())["config"],
                   json.loads((run / "result.json").read_text())["config"],
                   json.loads((run / "model" / "model.json").read_text())["config"]):
        assert values["data"]["dataset"] == f"folder:{photos.resolve()}"
    monkeypatch.chdir(tmp_path)  # another working directory
    assert main(["report", str(run)]) == 0
    assert f"on folder:{photos.resolve()}" in (run / "report.html").read_text()
    photos.rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    error = capsys.readouterr().err
    assert f"trained on the image folder {photos.resolve()}, which is not there any more" in error
    assert "--data-folder PATH" in error and error.count("\n") == 1
    assert main(["report", str(run), "--data-folder", str(tmp_path / "moved")]) == 0


def test_runs_that_recorded_a_relative_folder_still_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    make_photo_folder(tmp_path / "work" / "photos", per_class=4)
    monkeypatch.chdir(tmp_path / "work")
    assert main(["run", "--dataset", "folder:photos", "--out", "runs", *TINY_RUN]) == 0
    run = next((tmp_path / "work" / "runs").iterdir())
    for name in ("config.json", "result.json"):  # as runs wrote it before paths were made absolute
        text = (run / name).read_text().replace(f'"folder:{tmp_path / "work" / "photos"}"', '"folder:photos"')
        (run / name).write_text(text)
    shutil.rmtree(run / "model")  # and before model bundles existed
    assert main(["predict", str(run), "photos/coffee"]) == 0  # from where it was started: as before
    shutil.rmtree(run / "model")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["predict", str(run), "work/photos/coffee"]) == 2
    error = capsys.readouterr().err
    assert "trained on the image folder photos (a path relative to where the run was started" in error
    assert "--data-folder" in error
    assert main(["predict", str(run), "work/photos/coffee", "--data-folder", "work/photos"]) == 0
    assert main(["report", str(run), "--data-folder", "work/photos"]) == 0
