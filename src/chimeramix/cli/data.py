"""``chimeramix data``: list, prepare, split and pack datasets."""

from __future__ import annotations

import argparse
from pathlib import Path

from chimeramix.cli.common import PREPARE_HINT, add_data_root_argument
from chimeramix.config import parse_int_list
from chimeramix.data.datapack import make_data_pack
from chimeramix.data.datasets import (
    BUILTIN_DATASETS,
    SplitSummary,
    check_data_root,
    dataset_file,
    load_split,
    resolve_data_root,
    summarize_npz,
)
from chimeramix.data.download import prepare
from chimeramix.data.splits import split
from chimeramix.viz import image_grid, save_png

PAPER_KS = "5,10,20,30,50,100"
PAPER_SEEDS = "0-4"
LISTED_CLASSES = 10
"""``data list`` names this many classes of a dataset, then gives the count."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = subparsers.add_parser("data", help="list, prepare, split and pack datasets")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="which datasets the data root holds, with counts and classes")
    add_data_root_argument(listing)
    listing.set_defaults(handler=run_list)

    prep = actions.add_parser("prepare", help="download, verify and convert an official dataset")
    prep.add_argument("name", help=", ".join(BUILTIN_DATASETS))
    add_data_root_argument(prep)
    prep.add_argument("--mirror", default=None, metavar="URL_OR_FOLDER",
                      help="fetch the archives from this URL prefix or folder instead of the official sites")
    prep.add_argument("--archives", default=None, metavar="FOLDER",
                      help="folder of (pre-downloaded) archives; default: <data root>/archives")
    prep.set_defaults(handler=run_prepare, interrupt_hint=PREPARE_HINT)

    show = actions.add_parser("split", help="the k train images per class that a seed chooses")
    show.add_argument("name", help="cifar10, cifair10, cifar100, cifair100, stl10 or folder:PATH")
    show.add_argument("--k", type=int, required=True, help="images per class")
    show.add_argument("--seed", type=int, default=0, help="split seed; the paper's splits are 0..4")
    show.add_argument("--preview", type=Path, default=None, metavar="FILE.png",
                      help="write a grid of the chosen images, one row per class")
    add_data_root_argument(show)
    show.add_argument("--folder-image-size", type=int, default=32,
                      help="side to which folder: images are resized (default 32)")
    show.set_defaults(handler=run_split)

    packing = actions.add_parser("pack", help="a small data root with only the train images some splits use")
    packing.add_argument("name", help=", ".join(BUILTIN_DATASETS))
    packing.add_argument("--k", default=PAPER_KS, help=f"images per class, e.g. 5,10 (default {PAPER_KS})")
    packing.add_argument("--seeds", default=PAPER_SEEDS, help=f"split seeds (default {PAPER_SEEDS})")
    packing.add_argument("--out", type=Path, required=True, help="folder that becomes the pack's data root")
    add_data_root_argument(packing)
    packing.set_defaults(handler=run_pack)


def run_list(args: argparse.Namespace) -> int:
    root = resolve_data_root(args.data_root)
    check_data_root(root)
    print(f"data root: {root}")
    width = max(len(name) for name in BUILTIN_DATASETS)
    for name in BUILTIN_DATASETS:
        files = {split: dataset_file(root, name, split) for split in ("train", "test")}
        found = {split: summarize_npz(path, name) for split, path in files.items() if path.is_file()}
        if not found:
            print(f"{name:<{width}}  not prepared (`chimeramix data prepare {name}`)")
            continue
        counts = ", ".join(describe_count(split, found.get(split)) for split in files)
        any_split = next(iter(found.values()))
        height, side = any_split.image_size
        classes = list(any_split.classes)
        names = ", ".join(classes[:LISTED_CLASSES]) + (", ..." if len(classes) > LISTED_CLASSES else "")
        print(f"{name:<{width}}  {root / name}: {counts}; {height}x{side} px; {len(classes)} classes: "
              f"{names}")
    return 0


def describe_count(split: str, summary: SplitSummary | None) -> str:
    if summary is None:
        return f"{split} missing"
    if summary.stored < summary.total:
        return f"{split} {summary.stored:,} of {summary.total:,} (pack)"
    return f"{split} {summary.total:,}"


def run_prepare(args: argparse.Namespace) -> int:
    folder = prepare(args.name, args.data_root, mirror=args.mirror, archives_dir=args.archives, notify=print)
    print(f"prepared {args.name} in {folder}")
    return 0


def run_split(args: argparse.Namespace) -> int:
    train = load_split(args.name, "train", args.data_root, folder_image_size=args.folder_image_size)
    chosen = split(train, args.k, args.seed)
    print(f"{args.name}, k = {args.k}, seed = {args.seed}: {len(chosen.indices)} train images; their indices "
          "per class, in the order the rule draws them (a smaller k takes a prefix):")
    width = max(len(name) for name in train.classes)
    for name, indices in zip(train.classes, chosen.per_class):
        print(f"{name:<{width}}  {' '.join(str(i) for i in indices)}")
    if args.preview is not None:
        rows = [train.take(indices) for indices in chosen.per_class]
        scale = max(1, 64 // max(train.image_size))
        save_png(image_grid(rows, scale=scale), args.preview)
        print(f"preview: {args.preview}")
    return 0


def run_pack(args: argparse.Namespace) -> int:
    summary = make_data_pack(args.name, parse_int_list(args.k), parse_int_list(args.seeds), args.out, args.data_root)
    print(f"packed {summary.train_images:,} of {summary.train_total:,} train images and all "
          f"{summary.test_images:,} test images into {summary.folder} ({summary.size_bytes / 1e6:.1f} MB); "
          f"use it with --data-root {args.out}")
    return 0
