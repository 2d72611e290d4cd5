#!/usr/bin/env bash
# Issue 25 point 5, "nothing changes results": the same runs with the code of two worktrees, side by side.
#
#   bash docs/structure/point5.sh BEFORE_TREE AFTER_TREE OUT
#
# Steps (STEPS, default "quick packed demo"; each prints its start, end and load average):
#   tiny    docs/structure/compare-tiny-runs.sh for both trees, then diff (fifteen tiny kinds: losses, weights);
#   quick   `chimeramix run` of the quick baseline (CIFAR-10, k = 10, seed 0), both sides at once, one thread each;
#   packed  a quick sweep of the baseline over seeds 0-1 packed by 2, both sides at once;
#   demo    `chimeramix compare` of baseline and chimeramix-seg under a 10-minute budget, a --dry-run plan of each
#           side (diffed), then the runs one side after the other.
# Each side gets its own cost cache: a copy of CACHE where given, else an empty one. COSTS are step costs given on
# the demo's command line (default: those the session-5 demo measured, so both sides plan alike whatever the load
# while each measures; COSTS="" plans from the cache). Outputs go to OUT/before and OUT/after.
#
# How the sessions of 2026-12-06 ran it, with the paths of the development machine (each earlier session had its
# own copy of these lines: `git show 72630af:docs/structure/point5-session7.sh`, and -session6, -session5 and
# demo-session5.sh beside it):
#   session 5: STEPS="quick packed demo" CACHE=/work/evidence/cache-b20 COSTS="" point5.sh /work/before /work/after
#              /work/evidence/i25-s5; then STEPS=demo CACHE=/work/evidence/cache-b20 into the same OUT (demo2 there)
#   session 6: STEPS="quick demo" point5.sh /work/before /work/after /work/evidence/s6
#   session 7: STEPS="tiny quick packed demo" point5.sh /work/s7-before /work/s7-after /work/evidence/s7
set -u
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); out=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
export CHIMERAMIX_DATA=${CHIMERAMIX_DATA:-/work/shared/data} OMP_NUM_THREADS=1
py=$here/.venv/bin/python
steps=${STEPS:-quick packed demo}
costs=${COSTS-"--step-seconds generator/32px-16ch-b16/bf16=0.189 --step-seconds classifier/wrn-16-2/32px/bf16=0.0373 --step-seconds classifier/wrn-16-2/compose-32px-16ch/32px/bf16=0.0494"}
declare -A tree=([before]=$before [after]=$after)

mark() { echo "$1 $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
run_side() {  # SIDE NAME ARGS...: `chimeramix ARGS` with SIDE's code and cost cache, timed, into OUT/SIDE/NAME.out;
              # the word @OUT in ARGS is OUT/SIDE
  local side=$1 name=$2; shift 2
  local args=("${@//@OUT/$out/$side}")
  (cd "${tree[$side]}" && PYTHONPATH=${tree[$side]}/src XDG_CACHE_HOME=$out/$side/cache \
     /usr/bin/time -f "%e s" "$py" -m chimeramix "${args[@]}" > "$out/$side/$name.out" 2>&1)
}
both_at_once() {  # NAME ARGS...: run_side on both sides at once
  mark "$1 start"
  run_side before "$@" & run_side after "$@" & wait
  mark "$1 done"
}

mkdir -p "$out"; out=$(cd "$out" && pwd)
for side in before after; do
  rm -rf "${out:?}/$side"; mkdir -p "$out/$side"
  if [ -n "${CACHE:-}" ]; then cp -r "$CACHE" "$out/$side/cache"; else mkdir -p "$out/$side/cache"; fi
done
for step in $steps; do
  case $step in
    tiny)
      mark "tiny start"
      for side in before after; do
        bash "$here/docs/structure/compare-tiny-runs.sh" "${tree[$side]}/src" "$out/tiny-$side" > "$out/tiny-$side.txt" 2>&1
      done
      diff "$out/tiny-before.txt" "$out/tiny-after.txt" && echo "tiny runs equal"
      mark "tiny done" ;;
    quick)
      both_at_once run run --dataset cifar10 --k 10 --seed 0 --method baseline --preset quick --device cpu \
        --out @OUT/run --no-progress --yes ;;
    packed)
      both_at_once sweep sweep --datasets cifar10 --methods baseline --k 10 --seeds 0-1 --preset quick --pack 2 \
        --workers 1 --device cpu --store @OUT/store --no-progress --yes ;;
    demo)
      demo=(compare cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store @OUT/demo
            $costs)
      for side in before after; do run_side $side demo-plan "${demo[@]}" --dry-run; done
      diff <(grep -v "^report\|store\| s$" "$out/before/demo-plan.out") <(grep -v "^report\|store\| s$" "$out/after/demo-plan.out") \
        && echo "plans equal"
      for side in before after; do
        mark "demo $side start"; run_side $side demo "${demo[@]}" --yes --no-progress; mark "demo $side done"
      done ;;
    *) echo "unknown step $step; use tiny, quick, packed, demo"; exit 2 ;;
  esac
done
