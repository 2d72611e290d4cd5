"""``chimeramix analyze fid`` (Fig. 4) and ``chimeramix analyze embed`` (Fig. 5) of generator runs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chimeramix.cli.common import add_data_root_argument

if TYPE_CHECKING:
    from chimeramix.analysis.features import FeatureExtractor


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analyze = subparsers.add_parser("analyze", help="FID/KID (Fig. 4) and MDE embeddings (Fig. 5) of generator runs")
    actions = analyze.add_subparsers(dest="analyze_command", required=True, metavar="ACTION")

    fid = actions.add_parser(
        "fid", help="FID and KID of generated images against the full training set, a JSON and a bar plot",
        description="Generate N images with each generator run (ChimeraMix's, or a generating first run of a "
                    "method's own kind), then FID and KID (torchmetrics) against the features of the full "
                    "training set of its dataset, cached per dataset and feature extractor. Writes fid.json and "
                    "fid.png into --out.")
    fid.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="finished generator runs")
    fid.add_argument("--n", type=int, default=None,
                     help="generated images per run (default: 100 per split image, at most 50,000)")
    _add_common(fid)
    fid.set_defaults(handler=run_fid)

    embed = actions.add_parser(
        "embed", help="an MDE embedding of the training set, the split and generated images (PNG + CSV)",
        description="Embed the features of the full training set (dots coloured by class), of the run's split "
                    "(red crosses) and of images the run generates (black dots) in 2-D with pymde. Writes "
                    "embedding.png and embedding.csv into --out.")
    embed.add_argument("run", type=Path, metavar="RUN_DIR", help="a finished generator run")
    embed.add_argument("--n", type=int, default=None, help="generated images (default: 10 per split image)")
    embed.add_argument("--train-points", type=int, default=None, metavar="M",
                       help="embed M training images, the split among them (default: all)")
    _add_common(embed)
    embed.set_defaults(handler=run_embed)


def _add_common(parser: argparse.ArgumentParser) -> None:
    features = parser.add_mutually_exclusive_group(required=True)
    features.add_argument("--inception", type=Path, metavar="FILE",
                          help="the TF FID Inception: pt_inception-2015-12-05-6726825d.pth (pytorch-fid), "
                               "weights-inception-2015-12-05-6726825d.pth (torch-fidelity) or inception-2015-12-05.pt "
                               "(clean-fid, TorchScript); never downloaded")
    features.add_argument("--features", type=Path, metavar="RUN_DIR",
                          help="offline instead: penultimate features of a finished classifier run of the same "
                               "dataset (labelled as such; not comparable with Inception FID)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the outputs")
    parser.add_argument("--seed", type=int, default=0, help="draws the pairs, masks and subsets (default 0)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    parser.add_argument("--batch-size", type=int, default=100, help="images per feature batch (default 100)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="folder of cached reference features (default: <user cache>/chimeramix/analysis)")
    add_data_root_argument(parser)


def _extractor(args: argparse.Namespace) -> FeatureExtractor:
    from chimeramix.analysis.features import classifier_extractor, inception_extractor
    from chimeramix.runtime import select_device

    device = select_device(args.device)
    if args.inception is not None:
        return inception_extractor(args.inception, device)
    return classifier_extractor(args.features, device)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from chimeramix.runtime import select_device

    return {"seed": args.seed, "device": select_device(args.device), "data_root": args.data_root,
            "cache_folder": args.cache, "batch_size": args.batch_size}


def run_fid(args: argparse.Namespace) -> int:
    from chimeramix.analysis.fid import fid_analysis, plot_fid
    from chimeramix.fileio import write_json

    started = time.perf_counter()
    extractor = _extractor(args)
    result = fid_analysis(args.runs, extractor, count=args.n, **_options(args))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out / "fid.json", result)
    plot_fid(result, args.out / "fid.png")
    print(f"features: {extractor.label}")
    print(f"{'method':<17} {'dataset':<10} {'k':>4} {'seed':>4} {'images':>7} {'FID':>9} {'KID x 1000':>14}  run")
    for row in result["runs"]:
        kid = f"{1000 * row['kid_mean']:.2f} ± {1000 * row['kid_std']:.2f}"
        print(f"{row['method']:<17} {row['dataset']:<10} {row['k']:>4} {row['seed']:>4} {row['images']:>7} "
              f"{row['fid']:>9.2f} {kid:>14}  {row['run']}")
    print(f"written: {args.out / 'fid.json'}, {args.out / 'fid.png'} ({result['wall_seconds']:.0f} s)")
    return 0


def run_embed(args: argparse.Namespace) -> int:
    from chimeramix.analysis.embedding import embed, plot_embedding, write_csv

    started = time.perf_counter()
    extractor = _extractor(args)
    embedding = embed(args.run, extractor, count=args.n, train_points=args.train_points, **_options(args))
    write_csv(embedding, args.out / "embedding.csv")
    plot_embedding(embedding, args.out / "embedding.png")
    print(f"features: {extractor.label}")
    print(f"{len(embedding.coordinates)} points ({int(embedding.generated.sum())} generated, "
          f"{int(embedding.in_split.sum())} of the split) written: {args.out / 'embedding.png'}, "
          f"{args.out / 'embedding.csv'} ({time.perf_counter() - started:.0f} s)")
    return 0
