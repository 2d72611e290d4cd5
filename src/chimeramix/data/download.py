"""``chimeramix data prepare``: download the official archives, verify, extract safely, convert to npz.

Which archives a dataset needs (the ciFAIR test sets replace CIFAR's test images; the train sets are CIFAR's):

=========== ======================================================
cifar10     CIFAR-10 python tarball + ciFAIR-10 zip (for the ``cifair_replaced`` test flags)
cifair10    the same two: CIFAR-10 train, ciFAIR-10 test
cifar100    CIFAR-100 python tarball + ciFAIR-100 zip (flags as for cifar10)
cifair100   the same two: CIFAR-100 train, ciFAIR-100 test
stl10       STL-10 binary tarball (labelled train and test; the unlabelled split is not extracted)
=========== ======================================================

Archives are downloaded into ``<data root>/archives`` and every one is checked against the md5 in
:data:`ARCHIVES` before use; a mismatching download there is renamed ``*.corrupt`` and never read. A folder of
archives the user downloaded (``--archives DIR``) is only read: a mismatching file in it is refused and left
exactly as it is, and archives missing from it are downloaded into ``<data root>/archives``, so that a failure
leaves the user's folder as it was, names and bytes. A mirror (an http(s)/file URL or a local folder holding
the same file names) replaces the official URLs.

Extraction never lets an archive choose where files go: every member name (and link target) is checked to
stay inside the extraction folder, otherwise the whole archive is refused, and only the needed regular files
are copied out, to paths this module builds from their base names.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chimeramix.data.archives import extract_members, latin1_text, load_cifar_pickle
from chimeramix.data.datasets import (
    FOLDER_PREFIX,
    SplitName,
    check_dataset_name,
    dataset_file,
    resolve_data_root,
    write_npz,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_path, check_writable

CONNECT_TIMEOUT_S = 10.0
"""Seconds before a connection attempt (or a stalled read) counts as offline."""


@dataclass(frozen=True)
class Archive:
    """One official download: file name, URL and md5 of the file."""

    filename: str
    url: str
    md5: str


ARCHIVES: dict[str, Archive] = {
    "cifar-10": Archive(
        "cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    "cifar-100": Archive(
        "cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
    "cifair-10": Archive(
        "ciFAIR-10.zip",
        "https://github.com/cvjena/cifair/releases/download/v1.0/ciFAIR-10.zip",
        "ca08fd390f0839693d3fc45c4e49585f",
    ),
    "cifair-100": Archive(
        "ciFAIR-100.zip",
        "https://github.com/cvjena/cifair/releases/download/v1.0/ciFAIR-100.zip",
        "ddc236ab4b12eeb8b20b952614861a33",
    ),
    "stl-10": Archive(
        "stl10_binary.tar.gz",
        "https://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
        "91f7769df0f17e558f3565bffb0c7dfb",
    ),
}
"""The official archives (the one table of URLs and checksums); tests pass their own table."""

ARCHIVE_MEMBERS: dict[str, tuple[str, ...]] = {
    "cifar-10": (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"),
    "cifar-100": ("train", "test", "meta"),
    "cifair-10": ("test_batch",),
    "cifair-100": ("test",),
    "stl-10": ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "class_names.txt"),
}
"""Base names of the files each archive must provide."""

Notify = Callable[[str], None]
Members = Mapping[str, Mapping[str, Path]]
"""Extracted files: archive key -> member base name -> path."""
Arrays = dict[str, np.ndarray]


def prepare(
    name: str,
    data_root: str | Path | None = None,
    *,
    mirror: str | None = None,
    archives_dir: str | Path | None = None,
    table: Mapping[str, Archive] = ARCHIVES,
    notify: Notify | None = None,
) -> Path:
    """Make ``<root>/<name>/train.npz`` and ``test.npz`` from the official archives; returns the folder.

    Archives already in ``archives_dir`` (the user's folder, only read) or in ``<root>/archives`` are verified
    and used; missing ones are downloaded into ``<root>/archives`` (from ``mirror`` if given). ``notify``
    receives one line per step (downloads, checks, files written).
    """
    check_dataset_name(name)
    if name.startswith(FOLDER_PREFIX):
        raise ChimeraMixError(
            f"{name} is a folder of images and needs no preparation; use it directly as --dataset {name}"
        )
    say = notify or (lambda _: None)
    root = resolve_data_root(data_root)
    user = Path(archives_dir).expanduser() if archives_dir else None
    check_writable(root, "pass a writable --data-root (or set CHIMERAMIX_DATA)")
    keys = DATASET_ARCHIVES[name]
    paths = fetch_archives([table[key] for key in keys], root / "archives", mirror, name, say, user)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".prepare-", dir=root) as scratch:
        members = {
            key: extract_members(path, Path(scratch) / key, ARCHIVE_MEMBERS[key])
            for key, path in zip(keys, paths)
        }
        splits = CONVERTERS[name](members)
    for split, arrays in splits.items():
        path = dataset_file(root, name, split)
        write_npz(path, arrays)
        say(f"wrote {path} ({len(arrays['labels']):,} images)")
    return root / name


# ------------------------------------------------------------------------------------------------ downloads


def fetch_archives(
    archives: Iterable[Archive], folder: Path, mirror: str | None, name: str, say: Notify, user: Path | None = None
) -> list[Path]:
    """Paths of the verified archives: those in the user's folder ``user`` (only read, never changed), else in
    ``folder``, downloading the missing ones into ``folder`` first."""
    archives = list(archives)
    found = {a.filename: user / a.filename for a in archives if user is not None and (user / a.filename).is_file()}
    missing = [a for a in archives if a.filename not in found and not (folder / a.filename).is_file()]
    if missing:
        check_writable(folder, "pass a writable --data-root, or --archives DIR: the folder that holds the archives "
                               "you downloaded yourself")
    base = mirror_base(mirror)
    for i, archive in enumerate(missing):
        url = f"{base}/{archive.filename}" if base else archive.url
        download(url, folder / archive.filename, say, offline_hint(missing[i:], base, user or folder, name))
    paths = [found.get(archive.filename, folder / archive.filename) for archive in archives]
    for archive, path in zip(archives, paths):
        verify(path, archive, say, users=archive.filename in found)
    return paths


def mirror_base(mirror: str | None) -> str | None:
    """The URL prefix of a mirror given as a URL or a local folder (``None``: the official URLs)."""
    if mirror is None:
        return None
    if Path(mirror).expanduser().is_dir():
        return Path(mirror).expanduser().resolve().as_uri()
    if urllib.parse.urlsplit(mirror).scheme in ("http", "https", "file"):
        return mirror.rstrip("/")
    raise ChimeraMixError(
        f"--mirror {mirror!r} is neither an existing folder nor an http(s)/file URL; give one of those"
    )


def offline_hint(missing: list[Archive], base: str | None, folder: Path, name: str) -> str:
    """The fix for a failed download: which files to fetch by other means and where to put them."""
    urls = ", ".join(f"{base}/{a.filename}" if base else a.url for a in missing)
    return (
        f"download {urls} by other means into {folder} (or any folder), then run "
        f"`chimeramix data prepare {name} --archives FOLDER`"
    )


def download(url: str, path: Path, say: Notify, hint: str) -> None:
    """Stream ``url`` to ``path`` atomically; any network failure raises at once, naming the fix ``hint``."""
    say(f"downloading {url}")
    try:
        with (
            atomic_path(path) as partial,
            urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response,
            open(partial, "wb") as out,
        ):
            shutil.copyfileobj(response, out, length=1 << 20)
    except urllib.error.HTTPError as error:
        raise ChimeraMixError(f"{url} answered HTTP {error.code}; {hint}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ChimeraMixError(f"cannot download {url} ({reason}); {hint}") from None


def verify(path: Path, archive: Archive, say: Notify, *, users: bool = False) -> None:
    """Check the md5 of ``path``. A mismatching download is renamed ``*.corrupt`` so that it is never used; a
    mismatching file of the user's own folder (``users``) is refused and left as it is."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    found = digest.hexdigest()
    if found != archive.md5 and users:
        raise ChimeraMixError(
            f"{path} is not the official {archive.filename} (md5 {found}, expected {archive.md5}); it is left as it "
            f"is: replace it with the official file from {archive.url}, or take it out of {path.parent} to have it "
            "downloaded"
        )
    if found != archive.md5:
        corrupt = path.with_name(path.name + ".corrupt")
        path.replace(corrupt)
        raise ChimeraMixError(
            f"checksum mismatch for {path.name} (md5 {found}, expected {archive.md5}), so the download was moved to "
            f"{corrupt}; run the command again to download it afresh from {archive.url}"
        )
    say(f"verified {path}")


# ------------------------------------------------------------------------------------------------ converters


@dataclass(frozen=True)
class CifarFormat:
    """Where one CIFAR variant keeps its batches, labels and class names."""

    archive: str
    cifair_archive: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: str
    names_key: str


CIFAR10_FORMAT = CifarFormat(
    archive="cifar-10",
    cifair_archive="cifair-10",
    train=ARCHIVE_MEMBERS["cifar-10"][:5],
    test="test_batch",
    meta="batches.meta",
    label_key="labels",
    names_key="label_names",
)
CIFAR100_FORMAT = CifarFormat(
    archive="cifar-100",
    cifair_archive="cifair-100",
    train=("train",),
    test="test",
    meta="meta",
    label_key="fine_labels",
    names_key="fine_label_names",
)


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 32 x 32 x 3) and int64 labels of one CIFAR batch file."""
    batch = load_cifar_pickle(path)
    data = np.asarray(batch.get("data"))
    if label_key not in batch or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ChimeraMixError(
            f"{path.name} lacks uint8 N x 3072 'data' or {label_key!r}, so it is no official CIFAR batch; "
            "download the archive again"
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(batch[label_key], dtype=np.int64)


def convert_cifar(fmt: CifarFormat, members: Members, *, cifair: bool) -> dict[SplitName, Arrays]:
    """Train from CIFAR; test from ciFAIR (``cifair``) or from CIFAR with a ``cifair_replaced`` flag."""
    files = members[fmt.archive]
    classes = np.array([latin1_text(c) for c in load_cifar_pickle(files[fmt.meta])[fmt.names_key]])
    batches = [read_cifar_batch(files[name], fmt.label_key) for name in fmt.train]
    train_images = np.concatenate([images for images, _ in batches])
    train_labels = np.concatenate([labels for _, labels in batches])
    cifar_images, cifar_labels = read_cifar_batch(files[fmt.test], fmt.label_key)
    fair_images, fair_labels = read_cifar_batch(members[fmt.cifair_archive][fmt.test], fmt.label_key)
    if len(cifar_labels) != len(fair_labels):
        raise ChimeraMixError(
            f"the {fmt.cifair_archive} test set has {len(fair_labels)} images, the {fmt.archive} one "
            f"{len(cifar_labels)}, so the archives do not belong together; download both official ones again"
        )
    train = {"images": train_images, "labels": train_labels, "classes": classes}
    if cifair:
        return {"train": train, "test": {"images": fair_images, "labels": fair_labels, "classes": classes}}
    replaced = np.any(cifar_images != fair_images, axis=(1, 2, 3)) | (cifar_labels != fair_labels)
    test = {"images": cifar_images, "labels": cifar_labels, "classes": classes, "cifair_replaced": replaced}
    return {"train": train, "test": test}


def read_stl_split(files: Mapping[str, Path], split: SplitName) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 96 x 96 x 3) and labels 0..9 of one STL-10 split (files store images column-major)."""
    pixels = np.fromfile(files[f"{split}_X.bin"], dtype=np.uint8)
    labels = np.fromfile(files[f"{split}_y.bin"], dtype=np.uint8).astype(np.int64) - 1
    if pixels.size != len(labels) * 3 * 96 * 96:
        raise ChimeraMixError(
            f"the STL-10 {split}_X.bin size does not match {split}_y.bin, so the archive is not the official "
            "one; download it again"
        )
    images = pixels.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)
    return np.ascontiguousarray(images), labels


def convert_stl10(members: Members) -> dict[SplitName, Arrays]:
    files = members["stl-10"]
    lines = files["class_names.txt"].read_text(encoding="utf-8").splitlines()
    classes = np.array([line.strip() for line in lines if line.strip()])
    splits: dict[SplitName, Arrays] = {}
    for split in ("train", "test"):
        images, labels = read_stl_split(files, split)
        splits[split] = {"images": images, "labels": labels, "classes": classes}
    return splits


DATASET_ARCHIVES: dict[str, tuple[str, ...]] = {
    "cifar10": ("cifar-10", "cifair-10"),
    "cifair10": ("cifar-10", "cifair-10"),
    "cifar100": ("cifar-100", "cifair-100"),
    "cifair100": ("cifar-100", "cifair-100"),
    "stl10": ("stl-10",),
}
"""Archive keys each built-in dataset needs, in :data:`ARCHIVES`."""

CONVERTERS: dict[str, Callable[[Members], dict[SplitName, Arrays]]] = {
    "cifar10": lambda members: convert_cifar(CIFAR10_FORMAT, members, cifair=False),
    "cifair10": lambda members: convert_cifar(CIFAR10_FORMAT, members, cifair=True),
    "cifar100": lambda members: convert_cifar(CIFAR100_FORMAT, members, cifair=False),
    "cifair100": lambda members: convert_cifar(CIFAR100_FORMAT, members, cifair=True),
    "stl10": convert_stl10,
}
