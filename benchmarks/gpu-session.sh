#!/usr/bin/env bash
# The GPU session (issue 27) in calls of the device tool: at most 10 minutes each, everything into $OUT.
#
#   here:  chimeramix data pack cifar10 --k 10 --seeds 0 --out datapack --data-root ../shared/data
#   there: bash benchmarks/gpu-session.sh --commit SHA                  carry ["datapack"], timeout_s 600
#          bash benchmarks/gpu-session.sh --commit SHA --stages runs    the continuation: carry ["datapack",
#                                                                       "gpu-state"] (the last call's state.tgz.*)
#
# Runs from the source tree (the GPU machine cannot install anything): benchmarks/gpu_session.py says what each
# stage does and what comes back; README.md's "Speed" section says how a GPU session goes. PYTHON picks the
# interpreter (default python3); scripts/gpu-stack-rehearsal.sh runs this with --rehearsal on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f datapack/cifar10/test.npz ]; then
    echo "no datapack/: make it with \`chimeramix data pack cifar10 --k 10 --seeds 0 --out datapack\` and carry it" >&2
    exit 2
fi
export PYTHONPATH="$PWD/src" CHIMERAMIX_DATA="$PWD/datapack" PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" benchmarks/gpu_session.py "$@"
