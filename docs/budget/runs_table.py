"""Print a Markdown table of the finished runs under the given folders (one row per run folder holding a
result.json): kind, method, split seed, networks, steps, precision, wall time and test accuracy.

    python docs/budget/runs_table.py /work/evidence/calib2 > table.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(result: dict, folder: Path) -> str:
    config = result["config"]
    seed = config["data"]["seed"]
    if "metrics" not in result:  # a generator
        network = f"{config['working_size']} px, {config['base_channels']} ch, batch {config['batch_size']}"
        return (f"| {folder.name} | generator | {seed} | {network} | {result['steps']} | {config.get('precision')} | "
                f"{result['wall_seconds']:.0f} | rec {result['final']['rec']:.4f} |")
    return (f"| {folder.name} | {config['method']} | {seed} | {config['architecture']} | {result['steps']} | "
            f"{config.get('precision')} | {result['wall_seconds']:.0f} | {100 * result['metrics']['accuracy']:.2f} % |")


def main() -> None:
    print("| run | method | seed | network | steps | precision | training s | accuracy (generator: L_rec) |")
    print("|---|---|---|---|---|---|---|---|")
    for root in sys.argv[1:]:
        for path in sorted(Path(root).glob("*/result.json")):
            print(row(json.loads(path.read_text()), path.parent))


if __name__ == "__main__":
    main()
