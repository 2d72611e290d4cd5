"""Folders you can trust: content fingerprints, refusals and warnings, skipped and unreadable files, TIFF and
nested folders, folds, run-folder names and the size chosen from the images (folders of real photos)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.data import load_data_split
from chimeramix.data.folder import FolderOptions, load_folder_split
from chimeramix.errors import ChimeraMixError
from chimeramix.resolution import resolve_data
from chimeramix.train import run as run_module
from chimeramix.train.classifier import train_classifier
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
