"""Cost of one multi-image generator training step as N grows: milliseconds per step and memory.

A generator step of multi-image ChimeraMix encodes all N images of every group, decodes N reconstructions and
one composition, and judges the composition; its cost should grow about linearly in N. For each N this times
the real objective (:class:`~chimeramix.methods.chimeramix.objective.AdversarialObjective`, generator then
discriminator step, Adam) on random images at the protocol's batch (64) and working size (64 px), and measures
the memory the step needs:

- ``saved MB``: the tensors autograd keeps for the backward pass (every device; counted by a
  ``torch.autograd.graph.saved_tensors_hooks`` pair, each storage once): what grows with N;
- ``peak MB``: ``torch.cuda.max_memory_allocated`` during the step, on CUDA only.

    python benchmarks/multi_image.py                                   # CUDA if available, paper-sized
    python benchmarks/multi_image.py --device cpu --channels 16 --batch 16 --steps 2 --images 2,3,4,6,8
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch

from chimeramix.config import MaskConfig
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import build_image_masks
from chimeramix.methods.chimeramix.objective import AdversarialObjective
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.runtime import environment, select_device


@contextmanager
def saved_bytes(counter: dict[str, int]) -> Iterator[None]:
    """Count the bytes of the distinct storages autograd saves for backward inside the block."""
    seen: set[int] = set()

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            counter["bytes"] += storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield


def measure(images: int, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """ms per step (median of ``args.steps`` after a warm-up) and the memory figures for N = ``images``."""
    config = resolve_generator(GeneratorConfig(masks=MaskConfig(kind="grid", images=images),
                                               base_channels=args.channels, working_size=args.size))
    torch.manual_seed(0)
    objective = AdversarialObjective(MixingGenerator.from_config(config).to(device),
                                     PatchDiscriminator().to(device), config, nullcontext)
    optimizers = {name: torch.optim.Adam(getattr(objective, name).parameters(), lr=2e-4)
                  for name in ("generator", "discriminator")}
    rng = torch.Generator(device).manual_seed(0)
    weights = build_image_masks(config.masks).sample(args.batch, config.feature_size, rng)
    batch = (torch.rand(images * args.batch, 3, args.size, args.size, device=device) * 2 - 1, weights, weights,
             torch.tensor(0, device=device))  # images, weights, the discriminator's weights (the same), real index
    times, counter = [], {"bytes": 0}
    for step in range(args.steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        with saved_bytes(counter) if step == 0 else nullcontext():
            objective.step(objective, optimizers, *batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step > 0:
            times.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"images": images, "ms_per_step": 1000 * sorted(times)[len(times) // 2],
            "saved_mb": counter["bytes"] / 2**20, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", default="2,3,4,6,8", help="values of N (default 2,3,4,6,8)")
    parser.add_argument("--channels", type=int, default=64, help="generator base channels (paper: 64)")
    parser.add_argument("--batch", type=int, default=64, help="groups per step (protocol: 64)")
    parser.add_argument("--size", type=int, default=64, help="working size in px (32 px data: 64)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per N, after one warm-up step")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    device = select_device(args.device)
    print(json.dumps(environment(device)))
    rows = [measure(int(n), args, device) for n in args.images.split(",")]
    base = rows[0]
    print(f"{'N':>3} {'ms/step':>9} {'x N=' + str(base['images']):>7} {'saved MB':>9} {'x':>6} {'peak MB':>8}")
    for row in rows:
        peak = "-" if row["peak_mb"] is None else f"{row['peak_mb']:.0f}"
        print(f"{row['images']:>3} {row['ms_per_step']:>9.1f} {row['ms_per_step'] / base['ms_per_step']:>7.2f} "
              f"{row['saved_mb']:>9.1f} {row['saved_mb'] / base['saved_mb']:>6.2f} {peak:>8}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "device": str(device), "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
