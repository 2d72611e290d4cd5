#!/usr/bin/env bash
# Rehearse the GPU session on this CPU with the GPU machine's software (issue 26), before a GPU is lent:
#
#   1. .venv-gpu-stack/: Python 3.12 and requirements/gpu-stack.txt (torch 2.11, torchvision 0.26, numpy 2.5, ...;
#      no Ray, pymde or kymatio), about 5 GB downloaded once;
#   2. the whole test suite from the source tree (PYTHONPATH=src, no install), as the GPU machine runs it: only
#      tests that need Ray, pymde, kymatio or CUDA may skip, each with that reason;
#   3. benchmarks/gpu-session.sh --rehearsal as two device-tool calls, each in a fresh copy of the files the tool
#      sends (git's tracked and untracked-not-ignored files, no .git), with the data pack carried: the first runs
#      every stage and the baseline, the second (--stages runs) only gets the first one's state.tgz.* carried back
#      in gpu-state/, as on a machine that went back in between, and adds chimeramix-grid.
#
#   bash scripts/gpu-stack-rehearsal.sh                 # all three
#   bash scripts/gpu-stack-rehearsal.sh --session-only  # 1 and 3
#
# PYTHON312 names the interpreter (default: python3.12 on PATH, else pyenv's); REHEARSAL_DIR the folder of the
# copies and outputs (default /tmp/chimeramix-rehearsal); REHEARSAL_DEADLINE_S each call's deadline (default 540 s,
# the GPU call's; more on a CPU that other work slows); the data comes from $CHIMERAMIX_DATA, else ../shared/data.
# Not part of CI (it downloads gigabytes); run it after changes that the GPU machine's versions could break.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ENV=$REPO/.venv-gpu-stack
WORK=${REHEARSAL_DIR:-/tmp/chimeramix-rehearsal}
DATA=${CHIMERAMIX_DATA:-$REPO/../shared/data}
PY312=${PYTHON312:-}
for candidate in python3.12 "$HOME"/.pyenv/versions/3.12.*/bin/python3.12; do  # the first that runs
    if [ -z "$PY312" ] && "$candidate" --version >/dev/null 2>&1; then PY312=$candidate; fi
done
DEADLINE=${REHEARSAL_DEADLINE_S:-540}
SUITE=1
if [ "${1:-}" = "--session-only" ]; then SUITE=0; fi
if [ -z "$PY312" ]; then echo "no Python 3.12: set PYTHON312 to one" >&2; exit 2; fi
started=$(date +%s)

echo "== 1. the GPU machine's software in $ENV ($("$PY312" --version))"
[ -x "$ENV/bin/python" ] || "$PY312" -m venv "$ENV"
if ! cmp -s requirements/gpu-stack.txt "$ENV/installed.txt"; then  # installed once per version of the list
    "$ENV/bin/python" -m pip install --quiet --upgrade pip
    "$ENV/bin/python" -m pip install --quiet -r requirements/gpu-stack.txt
    cp requirements/gpu-stack.txt "$ENV/installed.txt"
fi
"$ENV/bin/python" - <<'EOF'
import importlib.util, sys
import numpy, torch, torchvision
print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"numpy {numpy.__version__}")
assert sys.version_info[:2] == (3, 12) and torch.__version__.startswith("2.11.") and numpy.__version__.startswith("2.5.")
present = [name for name in ("ray", "pymde", "kymatio") if importlib.util.find_spec(name)]
assert not present, f"the GPU machine has no {present}: remove them from the environment"
EOF
mkdir -p "$WORK" && rm -rf "$WORK"/call? "$WORK"/out? "$WORK"/suite.*  # the data pack stays for the next rehearsal

if [ "$SUITE" = 1 ]; then
    echo "== 2. the whole test suite from the source tree"
    suite_started=$(date +%s)
    PYTHONPATH=$REPO/src "$ENV/bin/python" -m pytest -q -rs -p no:cacheprovider --junitxml="$WORK/suite.xml" \
        | tee "$WORK/suite.txt" || true
    "$ENV/bin/python" - "$WORK/suite.xml" <<'EOF'
import re, sys
sys.path.insert(0, "benchmarks")
from pathlib import Path
from gpu_session import pytest_outcomes
outcomes = pytest_outcomes(Path(sys.argv[1]))
allowed = re.compile(r"\bray\b|pymde|kymatio|CUDA", re.IGNORECASE)
wrong = [skip for skip in outcomes["skipped"] if not allowed.search(skip.split(": ", 1)[1])]
print(f"suite: {len(outcomes['passed'])} passed, {len(outcomes['failed'])} failed, {len(outcomes['skipped'])} skipped "
      "(only for Ray, pymde, kymatio or CUDA: " + ("yes" if not wrong else f"NO: {wrong}") + ")")
sys.exit(1 if outcomes["failed"] or wrong or not outcomes["passed"] else 0)
EOF
    echo "suite wall time: $(( $(date +%s) - suite_started )) s"
fi

echo "== 3. benchmarks/gpu-session.sh --rehearsal, two calls"
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo "+changes")
if [ ! -f "$WORK/datapack/cifar10/test.npz" ]; then
    PYTHONPATH=$REPO/src "$ENV/bin/python" -m chimeramix data pack cifar10 --k 10 --seeds 0 --out "$WORK/datapack" \
        --data-root "$DATA"
fi
copy_tree() {  # the files the device tool sends, into $1, with the data pack and the carried state folder $2
    mkdir -p "$1"
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$1"
    cp -r "$WORK/datapack" "$1/datapack"
    if [ -n "${2:-}" ]; then mkdir -p "$1/gpu-state" && cp "$2"/state.tgz.* "$1/gpu-state/"; fi
    echo "working tree sent: $(du -sm "$1" | cut -f1) MiB (the device tool takes 64 MiB)"
}
check_out() {  # what the device tool would bring back from $1
    local files
    files=$(find "$1" -type f | wc -l)
    find "$1" -type f -size +16M | grep . && { echo "a file of $1 is over 16 MiB" >&2; exit 1; }
    [ "$files" -le 8 ] || { echo "$1 holds $files files; the device tool brings back 8" >&2; exit 1; }
    echo "$1: $files files, $(du -sm "$1" | cut -f1) MiB"
}
for call in 1 2; do
    call_started=$(date +%s)
    if [ "$call" = 1 ]; then
        copy_tree "$WORK/call1"
        args=(--rehearsal --deadline-s "$DEADLINE" --commit "$commit" --methods baseline)
    else
        copy_tree "$WORK/call2" "$WORK/out1"
        args=(--rehearsal --deadline-s "$DEADLINE" --commit "$commit" --stages runs)
    fi
    (cd "$WORK/call$call" && OUT="$WORK/out$call" PYTHON="$ENV/bin/python" OMP_NUM_THREADS=1 \
        bash benchmarks/gpu-session.sh "${args[@]}") || { echo "call $call failed" >&2; exit 1; }
    check_out "$WORK/out$call"
    echo "call $call wall time: $(( $(date +%s) - call_started )) s"
done
grep -q "finished before this call" "$WORK/out2/summary.md" \
    || { echo "the second call did not continue the first one's store" >&2; exit 1; }
echo "rehearsal passed at $commit in $(( $(date +%s) - started )) s; outputs in $WORK"
