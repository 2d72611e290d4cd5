#!/usr/bin/env bash
# Install into .venv, then the main job: the baseline and ChimeraMix+Seg on CIFAR-10 with k = 10 images per class
# (split seed 0), each planned to finish within 10 minutes on this machine, side by side on 2 CPU cores (one
# worker each; a first run measures this machine's step costs before it plans). It prints the plans, both test
# accuracies, where the results are, and where the generator's pictures are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -d ../shared/data ]; then export CHIMERAMIX_DATA="${CHIMERAMIX_DATA:-$(cd ../shared/data && pwd)}"; fi
.venv/bin/chimeramix compare cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 \
    --store runs/demo --yes "$@"
echo "the generator's pictures: $(ls runs/demo/runs/gen-*/compositions.png runs/demo/runs/gen-*/masks.png \
    runs/demo/runs/gen-*/reconstructions.png 2>/dev/null | tr '\n' ' ')"
