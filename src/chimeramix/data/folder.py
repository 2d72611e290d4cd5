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
- Content: :func:`~chimeramix.data.folder_scan.describe_folder` gives the folder's content fingerprint (a hash
  of every image file's path and bytes); a run records it in its config and refuses to load a folder whose
  content has changed since.

Listing, fingerprinting and decoding the files is :mod:`chimeramix.data.folder_scan`; this module draws the
splits and checks what a run may trust (readable files, unchanged content, a test split large enough).

Problems with the data raise :class:`~chimeramix.errors.DataError` (retrying cannot fix them). Warnings go to
the ``chimeramix.data`` logger once per process (the command line prints them) and, as ``notes``, with the
test split. Decoded images are kept in memory for the last two folders read (keyed by file names, sizes and
modification times and the image size), so checking a folder, then loading its splits (or folds), decodes
each file once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chimeramix.config import DataConfig
from chimeramix.data.folder_scan import (
    EXTENSIONS_TEXT,
    FolderListing,
    PerClass,
    Stamp,
    content_fingerprint,
    decode_folder,
    folder_path,
    list_folder,
)
from chimeramix.data.imageset import ImageSet, SplitName
from chimeramix.errors import ChimeraMixError, DataError
from chimeramix.protocol import FOLDER_PREFIX
from chimeramix.uncertainty import FEW_TEST_IMAGES

LOG = logging.getLogger("chimeramix.data")
MAX_LISTED_FILES = 10
"""How many bad files a message names before it gives only the count."""


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


def folder_options(data: DataConfig) -> FolderOptions:
    """The folder options of a resolved data config (the split seed picks the fold when cross-validating)."""
    if data.folder_image_size is None:
        raise ValueError("folder_options needs a data config resolved by resolution.resolve_data")
    return FolderOptions(image_size=data.folder_image_size, test_fraction=data.folder_test_fraction,
                         folds=data.folder_folds, fold=data.seed if data.folder_folds else 0,
                         skip_unreadable=data.skip_unreadable, fingerprint=data.fingerprint)


def check_options(options: FolderOptions) -> None:
    """Refuse an image size, test fraction or fold that cannot be used, naming the fix."""
    if options.image_size < 1:
        raise ChimeraMixError(f"the folder image size must be a positive number of pixels, got {options.image_size}")
    if not 0 < options.test_fraction < 1:
        raise ChimeraMixError(f"the folder test fraction must lie between 0 and 1, got {options.test_fraction}")
    if options.folds and (options.folds < 2 or not 0 <= options.fold < options.folds):
        raise ChimeraMixError(f"fold {options.fold} of {options.folds} folds does not exist; use --folds N with "
                              "N >= 2 (its folds are 0..N-1)")


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
