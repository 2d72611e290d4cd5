#!/usr/bin/env bash
# The three runs that check "same results" for the training core (issue "One training core for every
# trainer", point 6): the quick baseline on one thread, the demo (2 threads), and a training pack of two quick
# baselines (one thread). Usage, from a checkout with .venv installed and ../shared/data beside it:
#   bash docs/training-core/same-results.sh OUT_DIR
# Prints one line per run: what, test accuracy (%), commit. CPU results depend on the CPU kind and the thread
# count (float reduction order), so compare numbers made on one machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:?usage: same-results.sh OUT_DIR}"
export CHIMERAMIX_DATA="${CHIMERAMIX_DATA:-$(cd ../shared/data && pwd)}"
PY=.venv/bin/python
mkdir -p "$OUT"
OMP_NUM_THREADS=1 $PY -m chimeramix classifier train --dataset cifar10 --k 10 --seed 0 --method baseline \
    --preset quick --out "$OUT/baseline" --no-progress > "$OUT/baseline.txt" 2>&1 &
OMP_NUM_THREADS=1 $PY - "$OUT/pack" > "$OUT/pack.txt" 2>&1 <<'PY' &
import sys
from chimeramix import DataConfig, train_pack
from chimeramix.config import classifier_config
configs = [classifier_config(DataConfig("cifar10", 10, seed), "baseline", "quick") for seed in (0, 1)]
train_pack(configs, [f"{sys.argv[1]}/seed{seed}" for seed in (0, 1)], progress=False)
PY
wait
OMP_NUM_THREADS=2 $PY -m chimeramix run --dataset cifar10 --k 10 --seed 0 --method baseline,chimeramix-grid \
    --preset quick --out "$OUT/demo" --no-progress > "$OUT/demo.txt" 2>&1
$PY - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for name, path in [("quick baseline, 1 thread", "baseline"), ("pack of 2, seed 0", "pack/seed0"),
                   ("pack of 2, seed 1", "pack/seed1"),
                   ("demo baseline", "demo/classifier-cifar10-k10-seed0-baseline-quick"),
                   ("demo chimeramix-grid", "demo/classifier-cifar10-k10-seed0-chimeramix-grid-quick")]:
    result = json.loads((out / path / "result.json").read_text())
    print(f"{name:28s} {100 * result['metrics']['accuracy']:6.2f} %  commit {result['environment']['commit']}")
generator = json.loads((out / "demo/generator-cifar10-k10-seed0-grid-quick/result.json").read_text())
print(f"{'demo generator final L_rec':28s} {generator['final']['rec']:.6f}")
PY
