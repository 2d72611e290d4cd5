"""Pair the runs of one method in two stores by split seed (e.g. the same plan in bf16 and in fp32) and print
the per-seed differences, their mean ± sample std and how many seeds the first store's runs won.

    python docs/budget/paired_stores.py STORE_A STORE_B --method baseline [--preset-a 20min] [--preset-b paper]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def accuracies(store: Path, method: str, preset: str | None) -> dict[int, tuple[float, dict]]:
    """Test accuracy (%) and config of every finished classifier run of ``method`` in ``store``, by seed."""
    found = {}
    for path in sorted((store / "runs").glob("cls-*/result.json")):
        result = json.loads(path.read_text())
        config = result["config"]
        if config["method"] == method and (preset is None or config["preset"] == preset):
            found[int(config["data"]["seed"])] = (100 * result["metrics"]["accuracy"], result)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store_a", type=Path)
    parser.add_argument("store_b", type=Path)
    parser.add_argument("--method", default="baseline")
    parser.add_argument("--preset-a", default=None)
    parser.add_argument("--preset-b", default=None)
    args = parser.parse_args()
    a = accuracies(args.store_a, args.method, args.preset_a)
    b = accuracies(args.store_b, args.method, args.preset_b)
    seeds = sorted(set(a) & set(b))
    print("| seed | A: precision, steps | A accuracy | B: precision, steps | B accuracy | A - B |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        (acc_a, run_a), (acc_b, run_b) = a[seed], b[seed]
        print(f"| {seed} | {run_a['config']['precision']}, {run_a['steps']} | {acc_a:.2f} | "
              f"{run_b['config']['precision']}, {run_b['steps']} | {acc_b:.2f} | {acc_a - acc_b:+.2f} |")
    differences = np.array([a[seed][0] - b[seed][0] for seed in seeds])
    spread = f" ± {differences.std(ddof=1):.2f}" if len(seeds) > 1 else ""
    print(f"\nA: {args.store_a}, B: {args.store_b}, method {args.method}; paired difference A - B over {len(seeds)} "
          f"seeds: {differences.mean():+.2f}{spread} (sample std), A won {int((differences > 0).sum())}/{len(seeds)}")


if __name__ == "__main__":
    main()
