#!/usr/bin/env bash
# Everything issue #6 needs measured, in one command on the lent GPU machine (about 5-8 minutes on an H100).
#
#   here:  chimeramix data pack cifar10 --k 10 --seeds 0-4 --out datapack --data-root ../shared/data
#   there: bash benchmarks/gpu-session.sh        (device tool: carry ["datapack"]; results land in $OUT)
#
# Runs from the source tree (the GPU image has every dependency but Ray and cannot download): the CUDA tests
# of the fast path, of packs and of the scattering front end (fast path on CUDA), benchmarks/steps.py (reference
# vs fast, lone runs and packs of 5; the scattering classifier on the reference path), and a
# one-epoch trial of a packed cell. Copy the figures into benchmarks/RESULTS.md with the device and commit.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src" CHIMERAMIX_DATA="$PWD/datapack"
OUT="${OUT:-/tmp/gpu-session}"
PYTHON="${PYTHON:-python}"
mkdir -p "$OUT"
if [ ! -f datapack/cifar10/test.npz ]; then
    echo "no datapack/: make it with \`chimeramix data pack cifar10 --k 10 --seeds 0-4 --out datapack\` and carry it" >&2
    exit 2
fi
{ nvidia-smi; "$PYTHON" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'; \
  git rev-parse HEAD 2>/dev/null; } > "$OUT/device.txt" 2>&1
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/test_fast_step.py tests/test_fast_train.py tests/test_packed.py \
    tests/test_scattering.py \
    2>&1 | tee "$OUT/pytest.txt"
"$PYTHON" benchmarks/steps.py --json "$OUT/steps.json" 2>&1 | tee "$OUT/steps.txt"
"$PYTHON" benchmarks/cell.py --path fast --workers 1 --pack 10 --store "/tmp/cell-trial-$$" --set epochs=1 \
    2>&1 | tee "$OUT/cell-trial.txt"
