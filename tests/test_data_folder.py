"""``folder:PATH`` datasets: modes converted to RGB, resize policy, the held-out test split, bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chimeramix.data import load_split
from chimeramix.data.folder import FolderOptions, load_folder_split
from chimeramix.errors import ChimeraMixError


def colour(i: int) -> tuple[int, int, int]:
    """A distinct solid colour per file number, so that images can be told apart after loading."""
    return (10 + 3 * i) % 256, (200 - 5 * i) % 256, (17 * i) % 256


def make_folder(
    root: Path, counts: dict[str, int], size: tuple[int, int] = (12, 12)
) -> list[tuple[int, ...]]:
    """Class folders of solid-colour PNGs; returns every colour in class-then-file order."""
    colours: list[tuple[int, ...]] = []
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for _ in range(count):
            rgb = colour(len(colours))
            Image.new("RGB", size, rgb).save(root / name / f"{len(colours):03d}.png")
            colours.append(rgb)
    return colours


def colours_of(images: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in image[0, 0]) for image in images}


def test_images_of_every_mode_become_rgb(tmp_path: Path) -> None:
    folder = tmp_path / "modes"
    (folder / "a").mkdir(parents=True)
    Image.new("L", (10, 10), 128).save(folder / "a" / "grey.png")
    Image.new("LA", (10, 10), (50, 0)).save(folder / "a" / "grey_transparent.png")
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(folder / "a" / "rgba_transparent.png")
    Image.new("RGBA", (10, 10), (255, 0, 0, 255)).save(folder / "a" / "rgba_opaque.png")
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.save(folder / "a" / "palette.png")
    palette.save(folder / "a" / "palette_transparent.png", transparency=1)
    Image.fromarray(np.full((10, 10), 257 * 100, dtype=np.uint16)).save(folder / "a" / "sixteen_bit.png")
    Image.new("CMYK", (10, 10), (0, 0, 0, 0)).save(folder / "a" / "cmyk.jpg")
    Image.new("RGB", (10, 10), (0, 0, 255)).save(folder / "a" / "bitmap.bmp")
    Image.new("RGB", (10, 10), (0, 0, 255)).save(folder / "a" / "web.webp", lossless=True)
    Image.new("RGB", (10, 10), (0, 0, 255)).save(folder / "a" / "tagged.tiff")
    make_folder(folder, {"b": 2})
    train = load_folder_split(folder, "train", FolderOptions(image_size=4, test_fraction=0.01))
    assert train.images.shape == (11, 4, 4, 3) and train.images.dtype == np.uint8
    expected = {
        "bitmap": (0, 0, 255),
        "cmyk": (255, 255, 255),
        "grey": (128, 128, 128),
        "grey_transparent": (255, 255, 255),
        "palette": (0, 255, 0),
        "palette_transparent": (255, 255, 255),
        "rgba_opaque": (255, 0, 0),
        "rgba_transparent": (255, 255, 255),
        "sixteen_bit": (100, 100, 100),
        "tiff": (0, 0, 255),
        "web": (0, 0, 255),
    }
    test = load_folder_split(folder, "test", FolderOptions(image_size=4, test_fraction=0.01))  # one per class
    images = np.concatenate([train.images[train.labels == 0], test.images[test.labels == 0]])
    assert sorted(tuple(int(v) for v in image[1, 1]) for image in images) == sorted(expected.values())


def test_resize_scales_the_shorter_side_and_crops_the_centre(tmp_path: Path) -> None:
    folder = tmp_path / "wide"
    (folder / "a").mkdir(parents=True)
    picture = np.zeros((20, 60, 3), dtype=np.uint8)
    picture[:, :20] = (255, 0, 0)
    picture[:, 20:40] = (0, 0, 255)
    picture[:, 40:] = (0, 255, 0)
    Image.fromarray(picture).save(folder / "a" / "wide.png")
    Image.fromarray(picture).save(folder / "a" / "copy.png")
    make_folder(folder, {"b": 2})
    train = load_folder_split(folder, "train", FolderOptions(image_size=8, test_fraction=0.5))
    images = train.images[train.labels == 0]
    assert images.shape == (1, 8, 8, 3)
    assert (images[0, 2:6, 2:6] == (0, 0, 255)).all()


def test_held_out_split_is_stratified_seeded_and_complete(tmp_path: Path) -> None:
    colours = make_folder(tmp_path / "set", {"a": 2, "b": 3, "c": 5, "d": 10})
    train = load_folder_split(tmp_path / "set", "train", FolderOptions(8, 0.2))
    test = load_folder_split(tmp_path / "set", "test", FolderOptions(8, 0.2))
    assert train.classes == test.classes == ("a", "b", "c", "d")
    assert train.class_counts().tolist() == [1, 2, 4, 8]
    assert test.class_counts().tolist() == [1, 1, 1, 2]
    assert colours_of(train.images) | colours_of(test.images) == set(colours)
    assert not colours_of(train.images) & colours_of(test.images)
    again = load_folder_split(tmp_path / "set", "test", FolderOptions(8, 0.2))
    assert np.array_equal(again.images, test.images)
    others = [load_folder_split(tmp_path / "set", "test", FolderOptions(8, 0.2, test_seed=seed)).images
              for seed in range(1, 4)]
    assert any(colours_of(o) != colours_of(test.images) for o in others)


def test_train_and_test_subfolders_are_used_as_given(tmp_path: Path) -> None:
    train_colours = make_folder(tmp_path / "set" / "train", {"cat": 3, "dog": 2})
    make_folder(tmp_path / "set" / "test", {"cat": 1, "dog": 1})
    dataset = f"folder:{tmp_path / 'set'}"
    train = load_split(dataset, "train", folder_image_size=8)
    test = load_split(dataset, "test", folder_image_size=8)
    assert train.classes == test.classes == ("cat", "dog")
    assert train.labels.tolist() == [0, 0, 0, 1, 1] and test.labels.tolist() == [0, 1]
    assert colours_of(train.images) == set(train_colours)


def test_hidden_and_non_image_files_are_ignored(tmp_path: Path) -> None:
    make_folder(tmp_path / "set", {"a": 2, "b": 2})
    (tmp_path / "set" / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "set" / "a" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "set" / ".cache").mkdir()
    assert len(load_folder_split(tmp_path / "set", "train", FolderOptions(8, 0.5))) == 2


def test_all_unreadable_files_are_listed_in_one_error(tmp_path: Path) -> None:
    make_folder(tmp_path / "set", {"a": 2, "b": 2})
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    whole = (tmp_path / "noise.png").read_bytes()
    (tmp_path / "set" / "a" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "set" / "b" / "text.jpg").write_text("hello")
    for i in range(11):
        (tmp_path / "set" / "b" / f"empty{i:02d}.png").write_bytes(b"")
    with pytest.raises(ChimeraMixError) as error:
        load_folder_split(tmp_path / "set", "train", FolderOptions(8, 0.2))
    message = str(error.value)
    assert message.startswith("13 file(s) in") and "and 3 more" in message
    assert "a/truncated.png (image file is truncated" in message and "b/empty00.png (not an image)" in message


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"a": 2, "empty": 0}, r"empty hold no images \(.bmp, .jpeg, .jpg, .png, .tif, .tiff, .webp\); add images"),
        ({}, "has no class sub-folders"),
        ({"a": 3}, r"has a single class folder \(a\); a classifier needs at least two classes"),
        ({"a": 3, "b": 1}, r"b hold a single image; a class needs at least two \(one to train on, one to test on\)"),
    ],
)
def test_bad_folder_layouts_are_named(tmp_path: Path, layout: dict[str, int], message: str) -> None:
    (tmp_path / "set").mkdir()
    make_folder(tmp_path / "set", layout)
    with pytest.raises(ChimeraMixError, match=message):
        load_folder_split(tmp_path / "set", "train", FolderOptions(8, 0.2))


def test_train_and_test_class_folders_must_match(tmp_path: Path) -> None:
    make_folder(tmp_path / "set" / "train", {"cat": 2, "dog": 2})
    make_folder(tmp_path / "set" / "test", {"cat": 1, "cow": 1})
    with pytest.raises(ChimeraMixError, match=r"only in train: \['dog'\], only in test: \['cow'\]"):
        load_folder_split(tmp_path / "set", "train", FolderOptions(8, 0.2))


@pytest.mark.parametrize(
    ("size", "fraction", "message"), [(0, 0.2, "positive number of pixels"), (8, 1.0, "between 0 and 1")]
)
def test_bad_size_and_fraction(tmp_path: Path, size: int, fraction: float, message: str) -> None:
    make_folder(tmp_path / "set", {"a": 2})
    with pytest.raises(ChimeraMixError, match=message):
        load_folder_split(tmp_path / "set", "train", FolderOptions(size, fraction))
