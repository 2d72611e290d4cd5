#!/usr/bin/env bash
# Issue 25 point 5, session of 2026-12-06 (13:11- UTC): tiny runs of twelve kinds, the quick baseline, a packed
# quick sweep and the demo with the code before (a2e1bd6, /work/s7-before) and after (/work/s7-after, the commit
# named in after.md) this session's changes (the frozen first run in the core, sweep axes and budgets declared by
# the kind, the method's functions loaded once, label mixing as a transform); quick runs side by side (one thread
# each), the demos one after the other, both planned from the same given step costs, each side with an empty cost
# cache. As it ran, with the paths of the development machine.
set -u
export CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1
py=/work/main/.venv/bin/python
out=/work/evidence/s7
costs="--step-seconds generator/32px-16ch-b16/bf16=0.189 --step-seconds classifier/wrn-16-2/32px/bf16=0.0373 --step-seconds classifier/wrn-16-2/compose-32px-16ch/32px/bf16=0.0494"
for side in before after; do rm -rf $out/$side; mkdir -p $out/$side/cache; done
echo "tiny start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
bash /work/main/docs/structure/compare-tiny-runs.sh /work/s7-after/src $out/tiny-after > $out/tiny-after.txt 2>&1
diff /work/evidence/s7-tiny-before.txt $out/tiny-after.txt > /dev/null && echo "tiny runs equal" || echo "tiny runs DIFFER"
echo "quick start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/s7-$side && PYTHONPATH=/work/s7-$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix run \
      --dataset cifar10 --k 10 --seed 0 --method baseline --preset quick --device cpu --out $out/$side/run --no-progress --yes \
      > $out/$side/run.out 2>&1 ) &
done
wait
echo "quick done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/s7-$side && PYTHONPATH=/work/s7-$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix sweep \
      --datasets cifar10 --methods baseline --k 10 --seeds 0-1 --preset quick --pack 2 --workers 1 --device cpu \
      --store $out/$side/store --no-progress --yes > $out/$side/sweep.out 2>&1 ) &
done
wait
echo "packed done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/s7-$side && PYTHONPATH=/work/s7-$side/src XDG_CACHE_HOME=$out/$side/cache $py -m chimeramix compare \
      cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store $out/$side/demo $costs --dry-run \
      > $out/$side/demo-plan.out 2>&1 )
done
diff <(grep -v "^report\|store" $out/before/demo-plan.out) <(grep -v "^report\|store" $out/after/demo-plan.out) && echo "plans equal"
for side in before after; do
  echo "demo $side start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  ( cd /work/s7-$side && PYTHONPATH=/work/s7-$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix compare \
      cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store $out/$side/demo $costs --yes --no-progress \
      > $out/$side/demo.out 2>&1 )
  echo "demo $side done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
done
