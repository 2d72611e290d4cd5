#!/usr/bin/env bash
# The evidence of docs/analysis/README.md: quick ChimeraMix grid / seg generators and GLICO's stage 1 on CIFAR-10
# (k = 10, seed 0), a quick baseline classifier on a k = 100 split as the offline feature extractor, then
# `chimeramix analyze fid` (Fig. 4 style) and `chimeramix analyze embed` (Fig. 5 style) with its features.
# CPU-sized, not the paper's budget. Usage: bash docs/analysis/make-evidence.sh RUNS_DIR OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-runs/analysis}
OUT=${2:-docs/analysis}
export CHIMERAMIX_DATA=${CHIMERAMIX_DATA:-../shared/data} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CMX="${PYTHON:-.venv/bin/python} -m chimeramix"
common=(--dataset cifar10 --k 10 --seed 0 --preset quick --device cpu --no-progress)
[ -f "$RUNS/gen-grid/result.json" ] || $CMX generator train "${common[@]}" --mask grid --out "$RUNS/gen-grid"
[ -f "$RUNS/gen-seg/result.json" ] || $CMX generator train "${common[@]}" --mask seg --out "$RUNS/gen-seg"
[ -f "$RUNS/glico/result.json" ] || $CMX generator train "${common[@]}" --kind glico --out "$RUNS/glico"
[ -f "$RUNS/features-k100/result.json" ] || $CMX classifier train --dataset cifar10 --k 100 --seed 0 \
  --method baseline --preset quick --device cpu --no-progress --out "$RUNS/features-k100"
time $CMX analyze fid "$RUNS/gen-grid" "$RUNS/gen-seg" "$RUNS/glico" --features "$RUNS/features-k100" \
  --n 2000 --device cpu --out "$OUT/fid"
time $CMX analyze embed "$RUNS/gen-seg" --features "$RUNS/features-k100" --device cpu --out "$OUT/embed"
