"""``data prepare`` against small archives in the official formats, served from a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chimeramix.cli import main
from chimeramix.data import cifair_duplicate_mask, load_split
from chimeramix.data import download as dl
from chimeramix.data.archives import extract_members, load_cifar_pickle
from chimeramix.data.download import Archive, prepare
from chimeramix.errors import ChimeraMixError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
REPLACED = [2, 5]
"""Test positions whose images the fabricated ciFAIR sets replace."""


def random_images(rng: np.random.Generator, count: int, side: int = 32) -> np.ndarray:
    return rng.integers(0, 256, size=(count, side, side, 3), dtype=np.uint8)


def cifar_batch(images: np.ndarray, labels: np.ndarray, label_key: str) -> dict[str, Any]:
    """A batch dict as the official pickles hold it: rows of 3072 bytes, channel planes, row-major."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return {"batch_label": "fabricated", label_key: labels.tolist(), "data": rows}


def add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def write_pickles(path: Path, folder: str, files: dict[str, dict[str, Any]]) -> None:
    """A .tar.gz (or .zip) of protocol-2 pickles under ``folder/``, as the official archives are laid out."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in files.items():
                archive.writestr(f"{folder}/{name}", pickle.dumps(content, protocol=2))
        return
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            add_bytes(tar, f"{folder}/{name}", pickle.dumps(content, protocol=2))


def fabricate_archives(folder: Path) -> dict[str, Any]:
    """All five archives (tiny) in ``folder``; returns the arrays they encode, for comparison."""
    rng = np.random.default_rng(0)
    truth: dict[str, Any] = {}
    # CIFAR-10: 5 train batches of 6 images, a test batch of 10; ciFAIR-10 replaces two test images
    batches = [(random_images(rng, 6), rng.integers(0, 10, 6)) for _ in range(5)]
    test_images, test_labels = random_images(rng, 10), rng.integers(0, 10, 10)
    fair_images = test_images.copy()
    fair_images[REPLACED] = random_images(rng, len(REPLACED))
    files = {f"data_batch_{i + 1}": cifar_batch(x, y, "labels") for i, (x, y) in enumerate(batches)}
    files["test_batch"] = cifar_batch(test_images, test_labels, "labels")
    files["batches.meta"] = {"label_names": CIFAR10_NAMES, "num_vis": 3072}
    write_pickles(folder / "cifar-10-python.tar.gz", "cifar-10-batches-py", files)
    write_pickles(
        folder / "ciFAIR-10.zip", "ciFAIR-10", {"test_batch": cifar_batch(fair_images, test_labels, "labels")}
    )
    truth["cifar10"] = {
        "train_images": np.concatenate([x for x, _ in batches]),
        "train_labels": np.concatenate([y for _, y in batches]),
        "test_images": test_images,
        "fair_images": fair_images,
        "test_labels": test_labels,
    }
    # CIFAR-100: one train file, one test file, fine and coarse labels
    names100 = [f"fine{i}" for i in range(100)]
    train_images, train_labels = random_images(rng, 20), rng.integers(0, 100, 20)
    test_images, test_labels = random_images(rng, 8), rng.integers(0, 100, 8)
    fair_images = test_images.copy()
    fair_images[REPLACED] = random_images(rng, len(REPLACED))
    files = {
        "train": {**cifar_batch(train_images, train_labels, "fine_labels"), "coarse_labels": [0] * 20},
        "test": {**cifar_batch(test_images, test_labels, "fine_labels"), "coarse_labels": [0] * 8},
        "meta": {"fine_label_names": names100, "coarse_label_names": ["coarse"] * 20},
    }
    write_pickles(folder / "cifar-100-python.tar.gz", "cifar-100-python", files)
    write_pickles(
        folder / "ciFAIR-100.zip",
        "ciFAIR-100",
        {"test": cifar_batch(fair_images, test_labels, "fine_labels")},
    )
    truth["cifar100"] = {"train_images": train_images, "test_labels": test_labels, "fair_images": fair_images}
    # STL-10: column-major images, labels 1..10, class names one per line; an unlabelled file not to extract
    stl = {
        split: (random_images(rng, n, 96), rng.integers(0, 10, n)) for split, n in (("train", 4), ("test", 3))
    }
    with tarfile.open(folder / "stl10_binary.tar.gz", "w:gz") as tar:
        for split, (images, labels) in stl.items():
            add_bytes(tar, f"stl10_binary/{split}_X.bin", images.transpose(0, 3, 2, 1).tobytes())
            add_bytes(tar, f"stl10_binary/{split}_y.bin", (labels + 1).astype(np.uint8).tobytes())
        add_bytes(
            tar, "stl10_binary/class_names.txt", "\n".join(f"stl{i}" for i in range(10)).encode() + b"\n"
        )
        add_bytes(tar, "stl10_binary/unlabeled_X.bin", b"\0" * 1000)
    truth["stl10"] = stl
    return truth


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder and records the requested paths instead of logging them."""

    requests: list[str] = []  # noqa: RUF012 (one shared log for the module's server)

    def log_message(self, format: str, *args: Any) -> None:
        QuietHandler.requests.append(self.path)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("archives")
    return folder, fabricate_archives(folder)


@pytest.fixture(scope="module")
def server(archives: tuple[Path, dict[str, Any]]) -> Iterator[str]:
    handler = partial(QuietHandler, directory=str(archives[0]))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def table(archives: tuple[Path, dict[str, Any]], server: str) -> dict[str, Archive]:
    """The official table with the fabricated files' URLs (on the loopback server) and md5s."""
    folder = archives[0]
    return {
        key: Archive(a.filename, f"{server}/{a.filename}", md5(folder / a.filename))
        for key, a in dl.ARCHIVES.items()
    }


def test_prepare_cifar10_and_cifair10_over_http(
    tmp_path: Path, archives: tuple[Path, Any], table: Any
) -> None:
    truth = archives[1]["cifar10"]
    lines: list[str] = []
    prepare("cifar10", tmp_path, table=table, notify=lines.append)
    assert sum(line.startswith("downloading http://127.0.0.1") for line in lines) == 2
    train, test = load_split("cifar10", "train", tmp_path), load_split("cifar10", "test", tmp_path)
    assert np.array_equal(train.images, truth["train_images"])
    assert np.array_equal(train.labels, truth["train_labels"]) and train.labels.dtype == np.int64
    assert train.classes == tuple(CIFAR10_NAMES)
    assert np.array_equal(test.images, truth["test_images"])
    mask = cifair_duplicate_mask(test)
    assert mask is not None and np.flatnonzero(mask).tolist() == REPLACED

    lines.clear()
    prepare("cifair10", tmp_path, table=table, notify=lines.append)
    assert not any(line.startswith("downloading") for line in lines)  # the kept archives are reused
    fair_train, fair_test = (
        load_split("cifair10", "train", tmp_path),
        load_split("cifair10", "test", tmp_path),
    )
    assert np.array_equal(fair_train.images, train.images)
    assert np.array_equal(fair_test.images, truth["fair_images"])
    assert np.array_equal(fair_test.labels, test.labels)
    assert not list(tmp_path.glob(".prepare-*"))  # the extraction folder is gone


def test_prepare_cifar100_and_cifair100(tmp_path: Path, archives: tuple[Path, Any], table: Any) -> None:
    truth = archives[1]["cifar100"]
    prepare("cifair100", tmp_path, table=table)
    train, test = load_split("cifair100", "train", tmp_path), load_split("cifair100", "test", tmp_path)
    assert np.array_equal(train.images, truth["train_images"]) and train.num_classes == 100
    assert np.array_equal(test.images, truth["fair_images"]) and np.array_equal(
        test.labels, truth["test_labels"]
    )
    prepare("cifar100", tmp_path, table=table)
    mask = cifair_duplicate_mask(load_split("cifar100", "test", tmp_path))
    assert mask is not None and np.flatnonzero(mask).tolist() == REPLACED


def test_prepare_stl10_transposes_column_major_images(
    tmp_path: Path, archives: tuple[Path, Any], table: Any
) -> None:
    prepare("stl10", tmp_path, table=table)
    for split in ("train", "test"):
        images, labels = archives[1]["stl10"][split]
        loaded = load_split("stl10", split, tmp_path)
        assert np.array_equal(loaded.images, images) and np.array_equal(loaded.labels, labels)
        assert loaded.classes == tuple(f"stl{i}" for i in range(10))


def test_mirror_folder_and_archives_folder(tmp_path: Path, archives: tuple[Path, Any], table: Any) -> None:
    unreachable = {key: Archive(a.filename, "http://127.0.0.1:9/none", a.md5) for key, a in table.items()}
    prepare("stl10", tmp_path / "a", mirror=str(archives[0]), table=unreachable)
    assert (tmp_path / "a" / "archives" / "stl10_binary.tar.gz").is_file()
    prepare("stl10", tmp_path / "b", archives_dir=tmp_path / "a" / "archives", table=unreachable)
    assert load_split("stl10", "test", tmp_path / "b").images.shape == (3, 96, 96, 3)


def test_mirror_url_through_the_cli(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch, table: Any
) -> None:
    for key, archive in table.items():
        monkeypatch.setitem(
            dl.ARCHIVES, key, Archive(archive.filename, "http://127.0.0.1:9/none", archive.md5)
        )
    QuietHandler.requests.clear()
    assert main(["data", "prepare", "stl10", "--data-root", str(tmp_path), "--mirror", server]) == 0
    assert QuietHandler.requests == ["/stl10_binary.tar.gz"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_offline_fails_at_once_naming_files_and_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    code = main(["data", "prepare", "cifair10", "--data-root", str(tmp_path), "--mirror", mirror])
    assert code != 0 and time.monotonic() - start < 5
    message = capsys.readouterr().err
    assert f"{mirror}/cifar-10-python.tar.gz" in message and f"{mirror}/ciFAIR-10.zip" in message
    assert str(tmp_path / "archives") in message and "--archives FOLDER" in message
    assert message.count("\n") == 1


def test_http_error_is_reported(tmp_path: Path, server: str, table: Any) -> None:
    with pytest.raises(ChimeraMixError, match="answered HTTP 404"):
        prepare("stl10", tmp_path, mirror=f"{server}/missing", table=table)


def test_a_damaged_download_is_set_aside(tmp_path: Path, table: Any) -> None:
    bad = {**table, "stl-10": Archive("stl10_binary.tar.gz", table["stl-10"].url, "0" * 32)}
    with pytest.raises(ChimeraMixError, match=r"checksum mismatch for stl10_binary\.tar\.gz .* the download was moved"):
        prepare("stl10", tmp_path / "root", table=bad)
    assert [p.name for p in (tmp_path / "root" / "archives").iterdir()] == ["stl10_binary.tar.gz.corrupt"]
    assert not (tmp_path / "root" / "stl10").exists()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by relative name, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("failure", ["checksum", "missing and offline", "escaping member"])
def test_the_users_archives_folder_is_left_exactly_as_it_was(
    failure: str, tmp_path: Path, archives: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my downloads"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    name, argv = "stl10", []
    if failure == "checksum":
        shutil.copy(archives[0] / "stl10_binary.tar.gz", folder)
        monkeypatch.setitem(dl.ARCHIVES, "stl-10", Archive("stl10_binary.tar.gz", "http://127.0.0.1:9/x", "0" * 32))
    elif failure == "missing and offline":  # cifar10 needs two archives; one is there
        name, argv = "cifar10", ["--mirror", f"http://127.0.0.1:{closed_port()}"]
        shutil.copy(archives[0] / "cifar-10-python.tar.gz", folder)
    else:
        escaping_tar(folder / "stl10_binary.tar.gz", "stl10_binary/../../escaped.txt")
        digest = md5(folder / "stl10_binary.tar.gz")
        monkeypatch.setitem(dl.ARCHIVES, "stl-10", Archive("stl10_binary.tar.gz", "http://127.0.0.1:9/x", digest))
    before = snapshot(folder)
    code = main(["data", "prepare", name, "--data-root", str(tmp_path / "root"), "--archives", str(folder), *argv])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
    assert snapshot(folder) == before
    if failure == "checksum":
        assert not (tmp_path / "root" / "stl10").exists()


def test_a_damaged_file_of_the_users_folder_is_refused_naming_the_fix(
    tmp_path: Path, archives: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    shutil.copy(archives[0] / "stl10_binary.tar.gz", folder)
    monkeypatch.setitem(dl.ARCHIVES, "stl-10", Archive("stl10_binary.tar.gz", "http://127.0.0.1:9/x", "0" * 32))
    assert main(["data", "prepare", "stl10", "--data-root", str(tmp_path / "root"), "--archives", str(folder)]) == 2
    error = capsys.readouterr().err
    assert f"{folder / 'stl10_binary.tar.gz'} is not the official stl10_binary.tar.gz" in error
    assert "it is left as it is: replace it with the official file from http://127.0.0.1:9/x" in error


def escaping_tar(path: Path, member: str, *, link: str | None = None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, "stl10_binary/class_names.txt", b"a\n")
        if link is None:
            add_bytes(tar, member, b"escaped")
        else:
            info = tarfile.TarInfo(member)
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)


def test_escaping_member_is_refused_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    escaping_tar(folder / "stl10_binary.tar.gz", "stl10_binary/../../escaped.txt")
    digest = md5(folder / "stl10_binary.tar.gz")
    monkeypatch.setitem(dl.ARCHIVES, "stl-10", Archive("stl10_binary.tar.gz", "http://127.0.0.1:9/x", digest))
    code = main(
        ["data", "prepare", "stl10", "--data-root", str(tmp_path / "root"), "--archives", str(folder)]
    )
    assert code != 0
    assert "escapes the extraction folder ('stl10_binary/../../escaped.txt')" in capsys.readouterr().err
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize(
    ("member", "link"),
    [("/tmp/absolute.txt", None), ("stl10_binary/link", "../../../etc/passwd"), ("../up.txt", None)],
)
def test_escaping_tar_members_are_refused(tmp_path: Path, member: str, link: str | None) -> None:
    escaping_tar(tmp_path / "bad.tar.gz", member, link=link)
    with pytest.raises(ChimeraMixError, match="escapes the extraction folder"):
        extract_members(tmp_path / "bad.tar.gz", tmp_path / "out" / "target", ["class_names.txt"])
    assert not (tmp_path / "out" / "target" / "class_names.txt").exists()


def test_escaping_zip_member_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("ciFAIR-10/test_batch", b"x")
        archive.writestr("ciFAIR-10/../../up.txt", b"x")
    with pytest.raises(
        ChimeraMixError, match=r"escapes the extraction folder \('ciFAIR-10/\.\./\.\./up\.txt'\)"
    ):
        extract_members(tmp_path / "bad.zip", tmp_path / "out", ["test_batch"])


def test_archive_lacking_a_member_is_refused(tmp_path: Path) -> None:
    escaping_tar(tmp_path / "short.tar.gz", "stl10_binary/train_X.bin")
    with pytest.raises(ChimeraMixError, match=r"lacks test_X\.bin, so it is not the official archive"):
        extract_members(tmp_path / "short.tar.gz", tmp_path / "out", ["test_X.bin", "train_X.bin"])


class Deleter:
    """A pickle that would delete a file when loaded by an unrestricted unpickler."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def __reduce__(self) -> tuple[Any, ...]:
        return os.remove, (str(self.victim),)


def test_unpickler_refuses_anything_but_arrays(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    (tmp_path / "evil").write_bytes(pickle.dumps({"data": Deleter(victim)}, protocol=2))
    with pytest.raises(ChimeraMixError, match=r"refers to \w+\.remove"):
        load_cifar_pickle(tmp_path / "evil")
    assert victim.read_text() == "still here"


def test_folder_datasets_need_no_preparation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "folder:/some/where"]) != 0
    assert "needs no preparation" in capsys.readouterr().err


def test_every_builtin_dataset_has_archives_and_a_converter() -> None:
    from chimeramix.data import BUILTIN_DATASETS

    assert set(dl.DATASET_ARCHIVES) == set(dl.CONVERTERS) == set(BUILTIN_DATASETS)
    assert {key for keys in dl.DATASET_ARCHIVES.values() for key in keys} == set(dl.ARCHIVES)
