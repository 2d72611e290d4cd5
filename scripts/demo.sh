#!/usr/bin/env bash
# Install into .venv, then the main job: ChimeraMix+Grid and the baseline on CIFAR-10 with k = 10 images per
# class (split seed 0), CPU-sized ("quick" preset); prints both test accuracies and where the pictures are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -d ../shared/data ]; then export CHIMERAMIX_DATA="${CHIMERAMIX_DATA:-$(cd ../shared/data && pwd)}"; fi
.venv/bin/chimeramix run --dataset cifar10 --k 10 --seed 0 --method baseline,chimeramix-grid --preset quick \
    --out runs/demo "$@"
