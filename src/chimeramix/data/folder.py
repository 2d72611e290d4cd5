"""A user's own images as a dataset (``folder:PATH``).

Layout and policy:

- ``PATH/<class name>/...``: one sub-folder per class; classes are the sub-folder names in sorted order
  (label = position). A class's images are the files under its folder, nested folders included, whose
  extension (any case) is one of :data:`~chimeramix.data.decode.IMAGE_EXTENSIONS` (PNG, JPEG, BMP, WebP,
  TIFF); hidden entries (names starting with ``.``) are ignored, other files are skipped and counted by
  extension in a warning. At least two classes; a class folder without images is an error that names it.
- Test split: if ``PATH`` holds ``train/`` and ``test/`` sub-folders, those are the two splits (each laid out
  as above, with the same class folders; a test class may be empty, with a warning). Otherwise a held-out
  test split is drawn per class: with ``numpy.random.default_rng(test_seed)`` (seed 0, independent of the
  train-split seed) each class's files are shuffled and the first ``round(test_fraction * n)`` go to test,
  clipped so that at least one image stays in train and every class gives at least one test image (so a
  class needs two images). With ``folds = N`` the shuffled files are dealt into N folds instead and fold
  ``fold`` is the test split (cross-validation). Within a split, images keep the class-then-file order.
- Pixels and size: :mod:`chimeramix.data.decode`.
- Unreadable or truncated files: every image file is decoded once per folder content and size (cached), so
  a command reads them all before anything trains (:func:`describe_split`); all unreadable ones are reported
  in one error that lists the first few and their count, or, with ``skip_unreadable``, left out and listed in
  a warning. Counts of images are those of the readable files.
- Content: :func:`describe_folder` gives the folder's content fingerprint (a hash of every image file's path
  and bytes); a run records it in its config and refuses to load a folder whose content has changed since.

Problems with the data raise :class:`~chimeramix.errors.DataError` (retrying cannot fix them). Warnings go to
the ``chimeramix.data`` logger once per process (the command line prints them) and, as ``notes``, with the
test split. Decoded images are kept in memory for the last two folders read (keyed by file names, sizes and
modification times and the image size), so checking a folder, then loading its splits (or folds), decodes
each file once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chimeramix.config import DataConfig
from chimeramix.data.decode import IMAGE_EXTENSIONS, decode_or_reason, is_image_file, shorter_side
from chimeramix.data.imageset import ImageSet, SplitName
from chimeramix.errors import ChimeraMixError, DataError
from chimeramix.protocol import FOLDER_PREFIX
from chimeramix.uncertainty import FEW_TEST_IMAGES

LOG = logging.getLogger("chimeramix.data")
MAX_LISTED_FILES = 10
"""How many bad files a message names before it gives only the count."""
EXTENSIONS_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))

Stamp = tuple[str, int, int]
"""A file as (path relative to the dataset folder, size in bytes, modification time in ns)."""
PerClass = tuple[tuple[str, ...], ...]
"""File paths (relative to the dataset folder) of each class, in label order."""


@dataclass(frozen=True)
class FolderOptions:
    """How a folder becomes two splits (the ``folder_*`` fields of :class:`chimeramix.config.DataConfig`)."""

    image_size: int = 32
    test_fraction: float = 0.2
    folds: int = 0
    """0: a held-out fraction; N >= 2: N-fold cross-validation, fold ``fold`` is the test split."""
    fold: int = 0
    skip_unreadable: bool = False
    fingerprint: str | None = None
    """The content fingerprint the caller expects (``None``: any)."""
    test_seed: int = 0


@dataclass(frozen=True)
class FolderListing:
    """The class folders of a dataset folder and their image files, before any decoding."""

    root: Path
    classes: tuple[str, ...]
    files: PerClass
    """Every class's images (held-out layout), or its ``train/`` images (fixed layout)."""
    test_files: PerClass | None
    """The ``test/`` images of the fixed layout; ``None`` for the held-out layout."""
    skipped: tuple[tuple[str, int], ...]
    """(extension, count) of the files that are not images the loader reads."""

    @property
    def stamps(self) -> tuple[Stamp, ...]:
        """Every image file with its size and modification time, sorted by path."""
        names = sorted(name for per_class in (*self.files, *(self.test_files or ())) for name in per_class)
        return tuple((name, *_size_and_time(self.root / name)) for name in names)


@dataclass(frozen=True)
class FolderFacts:
    """What a run needs to know of a folder before loading it."""

    listing: FolderListing
    fingerprint: str
    """16 hex digits of a SHA-256 over every image file's path and bytes."""
    median_side: int
    """The median shorter side of the images, in pixels (from the file headers)."""


def folder_options(data: DataConfig) -> FolderOptions:
    """The folder options of a resolved data config (the split seed picks the fold when cross-validating)."""
    if data.folder_image_size is None:
        raise ValueError("folder_options needs a data config resolved by resolution.resolve_data")
    return FolderOptions(image_size=data.folder_image_size, test_fraction=data.folder_test_fraction,
                         folds=data.folder_folds, fold=data.seed if data.folder_folds else 0,
                         skip_unreadable=data.skip_unreadable, fingerprint=data.fingerprint)


def describe_split(data: DataConfig) -> tuple[str, int]:
    """One line on a resolved folder dataset's classes and splits (readable images only), and its smallest class's
    training count (in every fold, when cross-validating). Reads every image once first, so that an unreadable
    file is reported (or, with ``skip_unreadable``, left out and warned of) before anything trains; warns of a
    test split (or fold) too small to trust."""
    listing = list_folder(folder_path(data.dataset))
    options = folder_options(data)
    check_options(options)
    _, _, bad = decode_folder(listing, listing.stamps, options.image_size)
    for note in _read_notes(listing, bad, options.skip_unreadable):
        warn_once(note)
    folds = [_readable(assign_splits(listing, replace(options, fold=f)), bad) for f in range(options.folds)]
    train, test = _readable(assign_splits(listing, options), bad)
    n_train, n_test = sum(len(files) for files in train), sum(len(files) for files in test)
    if listing.test_files is not None:
        rule = "its train/ and test/ folders"
    elif options.folds:
        rule = f"fold {options.fold} of {options.folds} as test (cross-validation)"
    else:
        rule = f"a held-out {100 * options.test_fraction:g} % of each class"
    names = ", ".join(listing.classes[:5]) + (", ..." if len(listing.classes) > 5 else "")
    text = (f"{data.dataset}: {len(listing.classes)} classes ({names}), {n_train} train and {n_test} test images "
            f"({rule}; content {data.fingerprint})")
    sizes = sorted(sum(len(files) for files in fold_test) for _, fold_test in folds)
    if options.folds and sizes[0] < FEW_TEST_IMAGES:
        span = f"{sizes[0]}" if sizes[0] == sizes[-1] else f"{sizes[0]}-{sizes[-1]}"
        warn_once(f"each of the {options.folds} folds tests on only {span} "
                  f"images (fewer than {FEW_TEST_IMAGES}): one fold's accuracy is uncertain (one image is "
                  f"{100 / max(sizes[0], 1):.1f} points); the mean over the folds tests every image once")
    return text, min(len(files) for fold_train, _ in folds or [(train, test)] for files in fold_train)


def warn_once(note: str) -> None:
    """Log a warning about the data once per process (a command checks a folder, then loads its splits)."""
    if note not in _WARNED:
        _WARNED.add(note)
        LOG.warning("%s", note)


_WARNED: set[str] = set()


def folder_path(dataset: str) -> Path:
    """The folder of a ``folder:PATH`` dataset name (relative paths, as runs before absolute ones recorded, are
    relative to the working directory)."""
    return Path(dataset[len(FOLDER_PREFIX) :]).expanduser()


def locate_folder(data: DataConfig, data_folder: str | os.PathLike[str] | None = None) -> DataConfig:
    """The data config of a finished run, with its image folder at ``data_folder`` when given (where it is now;
    loading it still checks the content fingerprint). A folder that is no longer where the run recorded it is an
    error that names the recorded path and ``--data-folder``; built-in datasets are returned as they are."""
    if not data.dataset.startswith(FOLDER_PREFIX):
        return data
    if data_folder is not None:
        return replace(data, dataset=absolute_dataset(f"{FOLDER_PREFIX}{data_folder}"))
    path = folder_path(data.dataset)
    if not path.is_dir():
        relative = "" if path.is_absolute() else f" (a path relative to where the run was started; from here: " \
                                                   f"{path.resolve()})"
        raise DataError(f"this run was trained on the image folder {path}{relative}, which is not there any more "
                        "(moved, renamed or deleted?); pass --data-folder PATH to say where it is now")
    return data


def absolute_dataset(dataset: str) -> str:
    """``folder:PATH`` with ``PATH`` absolute and resolved (what configs record, so that a run folder, a store
    or a bundle names its data wherever it is opened from); other names as they are."""
    if not dataset.startswith(FOLDER_PREFIX):
        return dataset
    return f"{FOLDER_PREFIX}{folder_path(dataset).resolve()}"


def describe_folder(path: Path) -> FolderFacts:
    """The listing, content fingerprint and typical image size of the folder ``path``."""
    listing = list_folder(path)
    stamps = listing.stamps
    return FolderFacts(listing, content_fingerprint(str(path), stamps), _median_side(str(path), stamps))


def list_folder(path: Path) -> FolderListing:
    """The classes and image files of the folder ``path`` (see the module docstring); bad layouts are errors."""
    if path.is_file():
        raise DataError(f"{FOLDER_PREFIX}{path} names a file, not a folder; give {FOLDER_PREFIX}PATH of a folder "
                        "with one sub-folder of images per class")
    if not path.is_dir():
        raise DataError(
            f"image folder {path} does not exist; give {FOLDER_PREFIX}PATH with one sub-folder of images per class"
        )
    skipped: Counter[str] = Counter()
    if (path / "train").is_dir() and (path / "test").is_dir():
        classes, files = _list_classes(path, "train", skipped)
        test_classes, test_files = _list_classes(path, "test", skipped, allow_empty=True)
        if test_classes != classes:
            raise DataError(
                f"the class folders of {path / 'train'} and {path / 'test'} differ "
                f"(only in train: {sorted(set(classes) - set(test_classes))}, only in test: "
                f"{sorted(set(test_classes) - set(classes))}); give both the same class folders"
            )
    else:
        (classes, files), test_files = _list_classes(path, "", skipped), None
    return FolderListing(path, classes, files, test_files, tuple(sorted(skipped.items())))


def _list_classes(root: Path, split: str, skipped: Counter[str], *, allow_empty: bool = False
                  ) -> tuple[tuple[str, ...], PerClass]:
    """Class names (sorted sub-folder names of ``root/split``) and each class's image files (sorted)."""
    folder = root / split
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{folder} has no class sub-folders; put the images of each class in "
                              f"{folder}/<class name>/")
    if len(class_dirs) == 1:
        raise DataError(f"{folder} has a single class folder ({class_dirs[0].name}); a classifier needs at "
                              f"least two classes: add one sub-folder of images per class")
    files = []
    for class_dir in class_dirs:
        entries = [p for p in class_dir.rglob("*") if p.is_file() and not _hidden(p, class_dir)]
        skipped.update(p.suffix.lower() or "(no extension)" for p in entries if not is_image_file(p))
        files.append(tuple(sorted(str(p.relative_to(root)) for p in entries if is_image_file(p))))
    empty = [str(class_dir) for class_dir, images in zip(class_dirs, files) if not images]
    if empty and not allow_empty:
        raise DataError(f"class folder(s) {', '.join(empty)} hold no images ({EXTENSIONS_TEXT}); add "
                              "images or remove the folder(s)")
    return tuple(class_dir.name for class_dir in class_dirs), tuple(files)


def _hidden(path: Path, below: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(below).parts)


def check_options(options: FolderOptions) -> None:
    """Refuse an image size, test fraction or fold that cannot be used, naming the fix."""
    if options.image_size < 1:
        raise ChimeraMixError(f"the folder image size must be a positive number of pixels, got {options.image_size}")
    if not 0 < options.test_fraction < 1:
        raise ChimeraMixError(f"the folder test fraction must lie between 0 and 1, got {options.test_fraction}")
    if options.folds and (options.folds < 2 or not 0 <= options.fold < options.folds):
        raise ChimeraMixError(f"fold {options.fold} of {options.folds} folds does not exist; use --folds N with "
                              "N >= 2 (its folds are 0..N-1)")


def assign_splits(listing: FolderListing, options: FolderOptions) -> tuple[PerClass, PerClass]:
    """The train and test files of each class (fixed layout, held-out fraction or fold; module docstring)."""
    if listing.test_files is not None:
        return listing.files, listing.test_files
    single = [f"{listing.root / name}" for name, files in zip(listing.classes, listing.files) if len(files) < 2]
    if single:
        raise DataError(f"class folder(s) {', '.join(single)} hold a single image; a class needs at least "
                              "two (one to train on, one to test on): add images or remove the folder(s)")
    check_options(options)
    smallest = min(zip(listing.files, listing.classes), key=lambda item: len(item[0]))
    if options.folds > len(smallest[0]):
        raise ChimeraMixError(f"--folds {options.folds} is more folds than class {smallest[1]} has images "
                              f"({len(smallest[0])}): some folds would test on none of them; use at most --folds "
                              f"{len(smallest[0])}, or add images")
    rng = np.random.default_rng(options.test_seed)
    train, test = [], []
    for class_files in listing.files:
        n = len(class_files)
        order = rng.permutation(n)
        if options.folds:
            is_test = (np.argsort(order) % options.folds) == options.fold
        else:
            n_test = min(max(int(n * options.test_fraction + 0.5), 1), n - 1)
            is_test = np.zeros(n, dtype=bool)
            is_test[order[:n_test]] = True
        train.append(tuple(f for f, held in zip(class_files, is_test) if not held))
        test.append(tuple(f for f, held in zip(class_files, is_test) if held))
    return tuple(train), tuple(test)


def load_folder_split(path: Path, split: SplitName, options: FolderOptions) -> ImageSet:
    """One split of the image folder ``path`` as an :class:`ImageSet` (see the module docstring)."""
    check_options(options)
    listing = list_folder(path)
    train, test = _load_splits(listing, listing.stamps, options)
    chosen = train if split == "train" else test
    return replace(chosen, images=chosen.images.copy())  # the cached pixels stay untouched by callers


@functools.lru_cache(maxsize=1)
def _load_splits(listing: FolderListing, stamps: tuple[Stamp, ...], options: FolderOptions
                 ) -> tuple[ImageSet, ImageSet]:
    """Check the content, decode every image once, warn once; the train and the test split."""
    root = listing.root
    if options.fingerprint is not None:
        found = content_fingerprint(str(root), stamps)
        if found != options.fingerprint:
            raise DataError(
                f"the images in {root} have changed since this run was set up (content fingerprint {found}, the "
                f"run's {options.fingerprint}); start a new run (`chimeramix run` names runs by the folder's "
                "content), or restore the folder")
    rows, pixels, bad = decode_folder(listing, stamps, options.image_size)
    notes = _read_notes(listing, bad, options.skip_unreadable)
    train_files, test_files = _readable(assign_splits(listing, options), bad)
    without = [name for name, files in zip(listing.classes, train_files) if not files]
    if without:
        raise DataError(f"class(es) {', '.join(without)} of {root} have no readable training image; add images to "
                        "them")
    notes += _test_notes(listing, test_files)
    for note in notes:
        warn_once(note)
    name = f"{FOLDER_PREFIX}{root}"

    def image_set(split: SplitName, files: PerClass, notes: tuple[str, ...]) -> ImageSet:
        chosen = [rows[f] for per_class in files for f in per_class]
        labels = np.array([c for c, per_class in enumerate(files) for _ in per_class], dtype=np.int64)
        return ImageSet(name, split, pixels[chosen], labels, listing.classes, notes=notes)

    return image_set("train", train_files, ()), image_set("test", test_files, tuple(notes))


@functools.lru_cache(maxsize=2)
def decode_folder(listing: FolderListing, stamps: tuple[Stamp, ...], image_size: int
                  ) -> tuple[dict[str, int], np.ndarray, dict[str, str]]:
    """Every image file of a folder decoded once (``stamps`` keys the cache: a changed file is read anew): the
    row of each readable file in the pixels, the uint8 N x S x S x 3 pixels, and why the others cannot be read."""
    names = [name for name, _, _ in stamps]
    pixels, bad = decode_files(listing.root, names, image_size)
    return {name: row for row, name in enumerate(names) if name not in bad}, pixels, bad


def _read_notes(listing: FolderListing, bad: dict[str, str], skip_unreadable: bool) -> list[str]:
    """The warnings of reading a folder (skipped non-image files, unreadable ones left out); unreadable files
    without ``skip_unreadable`` are an error that lists them."""
    notes = _skipped_notes(listing)
    if bad:
        listed = _list_bad(bad)
        if not skip_unreadable:
            for note in notes:
                warn_once(note)
            raise DataError(f"{len(bad)} file(s) in {listing.root} cannot be read as images: {listed}; remove or "
                            "replace them, or pass --skip-unreadable to leave them out")
        notes.append(f"left out {len(bad)} unreadable file(s) of {listing.root} (--skip-unreadable): {listed}")
    return notes


def _readable(splits: tuple[PerClass, PerClass], bad: dict[str, str]) -> tuple[PerClass, PerClass]:
    """Train and test files without the unreadable ones ``bad`` (splits are drawn over every file, so leaving
    one out moves no other)."""
    def keep(per_class: PerClass) -> PerClass:
        return tuple(tuple(name for name in files if name not in bad) for files in per_class)

    return keep(splits[0]), keep(splits[1])


def _skipped_notes(listing: FolderListing) -> list[str]:
    if not listing.skipped:
        return []
    total = sum(count for _, count in listing.skipped)
    kinds = ", ".join(f"{count} {extension}" for extension, count in listing.skipped)
    return [f"skipped {total} file(s) of {listing.root} that are not images the loader reads ({kinds}); it reads "
            f"{EXTENSIONS_TEXT}"]


def _test_notes(listing: FolderListing, test_files: PerClass) -> list[str]:
    """Warnings about the test split: classes without a test image, and a test split too small to trust."""
    notes = []
    missing = [name for name, files in zip(listing.classes, test_files) if not files]
    if missing:
        notes.append(f"class(es) {', '.join(missing)} have no test image: their accuracy is not measured and the "
                     "macro accuracy leaves them out; add test images for them")
    size = sum(len(files) for files in test_files)
    if size < FEW_TEST_IMAGES:
        notes.append(f"the test split holds only {size} images (fewer than {FEW_TEST_IMAGES}): one image is "
                     f"{100 / max(size, 1):.1f} points of accuracy, so its accuracy is uncertain; add images or "
                     "estimate it with cross-validation (--folds N)")
    return notes


def _list_bad(bad: dict[str, str]) -> str:
    names = [f"{name} ({reason})" for name, reason in sorted(bad.items())]
    more = f" and {len(names) - MAX_LISTED_FILES} more" if len(names) > MAX_LISTED_FILES else ""
    return "; ".join(names[:MAX_LISTED_FILES]) + more


def decode_files(root: Path, names: list[str], image_size: int) -> tuple[np.ndarray, dict[str, str]]:
    """Decode every file (uint8 N x S x S x 3; unreadable files stay black) and the reasons of those that
    cannot be read, by name."""
    pixels = np.zeros((len(names), image_size, image_size, 3), dtype=np.uint8)
    bad = {}
    for i, name in enumerate(names):
        decoded = decode_or_reason(root / name, image_size)
        if isinstance(decoded, str):
            bad[name] = decoded
        else:
            pixels[i] = decoded
    return pixels, bad


@functools.lru_cache(maxsize=8)
def content_fingerprint(root: str, stamps: tuple[Stamp, ...]) -> str:
    """16 hex digits of a SHA-256 over every file's relative path and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        with open(Path(root) / name, "rb") as handle:
            digest.update(f"{name}\0{hashlib.file_digest(handle, 'sha256').hexdigest()}\n".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _median_side(root: str, stamps: tuple[Stamp, ...]) -> int:
    sides = [side for name, _, _ in stamps if (side := shorter_side(Path(root) / name)) is not None]
    return int(statistics.median(sides)) if sides else 0


def _size_and_time(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns
