"""What the released recipe's segmentation costs: Felzenszwalb on every fed image, on the fly.

The authors' data loaders segment each augmented generator input (64 px for 32 px data, normalised to [-1, 1]);
the paper recipe segments each training image and its flip once, at 32 px in [0, 1]. This script measures, on
real images of one split (the CIFAR-10 split k = 10, seed 0 by default):

- segments per image under both procedures (the mask distribution differs with them);
- milliseconds per segmented fed image, and per generator step of the protocol's batch (64): the released
  generator's batches (:class:`~chimeramix.methods.chimeramix.pairs.PairBatches`) timed with and without segmentation,
  in
  this process's CPU time (what a shared, loaded machine still measures faithfully) and in wall time;
- how many distinct fed images (image, crop offsets, flip) a split has: the memo of
  :class:`~chimeramix.methods.chimeramix.segments.AugmentedSegments` computes each at most once, so a whole generator
  run segments at
  most that many (and the draws of a run, steps x batch, otherwise).

    python benchmarks/released_segments.py --data-root ../shared/data --steps 20
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from chimeramix.config import DataConfig, MaskConfig
from chimeramix.data import repetition
from chimeramix.data.partners import SameClassPartners
from chimeramix.data.subset import load_training_set
from chimeramix.methods.chimeramix.pairs import PairBatches, PairData
from chimeramix.methods.chimeramix.segments import AugmentedSegments, SegmentationParams, compute_segments
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.protocol import steps_per_epoch
from chimeramix.runtime import environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20, help="generator batches to time (batch 64)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = resolve_generator(GeneratorConfig(data=DataConfig("cifar10", k=args.k, seed=0, data_root=args.data_root),
                                               masks=MaskConfig(kind="seg"), recipe="released"))
    assert config.batch_size is not None and config.input_crop is not None and config.repetition is not None
    train = load_training_set(config.data, torch.device("cpu"))
    params = SegmentationParams.of(config.masks)
    cached = compute_segments(train.pixels, params.scale, params.min_size, params.sigma)

    partners = SameClassPartners(train.labels)
    grid = PairBatches(resolve_generator(GeneratorConfig(data=config.data, recipe="released")),
                       PairData(train.images, partners, None))  # the same pipeline without segments
    segmenter = AugmentedSegments(params, memo_bytes=0)  # no memo: every fed image is segmented
    cpu, wall = {}, {}
    for name, batches in (("batches with segments", PairBatches(config, PairData(train.images, partners, segmenter))),
                          ("the same batches, grid masks", grid)):
        rng = torch.Generator().manual_seed(0)
        started, cpu_started = time.perf_counter(), time.process_time()
        for step in range(args.steps):
            batches(torch.arange(step * 64, (step + 1) * 64) % len(train.images), rng)
        cpu[name] = round(1000 * (time.process_time() - cpu_started) / args.steps, 1)
        wall[name] = round(1000 * (time.perf_counter() - started) / args.steps, 1)
    fed = grid(torch.arange(len(train.images)), torch.Generator().manual_seed(1))[0][: len(train.images)]
    fed_counts = [int(ids.max()) + 1 for ids in AugmentedSegments(params, memo_bytes=0)(fed)]
    steps = steps_per_epoch(len(train.images), repetition(args.k, config.repetition), config.batch_size) * config.epochs
    variants = len(train.images) * (2 * config.input_crop + 1) ** 2 * 2
    report = {
        "environment": environment(torch.device("cpu")),
        "split": f"cifar10 k={args.k} seed 0 ({len(train.images)} images)",
        "segments_per_image": {"paper: 32 px in [0, 1], once": float(np.mean(cached.max(axis=(1, 2)) + 1)),
                               "released: 64 px fed image in [-1, 1]": float(np.mean(fed_counts))},
        "cpu_ms_per_fed_image": round((cpu["batches with segments"] - cpu["the same batches, grid masks"]) / 64, 2),
        "cpu_ms_per_step (batch 64)": cpu,
        "wall_ms_per_step (batch 64; the machine's load included)": wall,
        "generator_run": {"steps": steps, "partner images drawn": steps * config.batch_size,
                          "distinct fed images (image x crop x flip)": variants,
                          "segmented with the memo (at most)": min(variants, steps * config.batch_size)},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
