#!/usr/bin/env bash
# The demo with the code before (d07ef02, /work/before) and after (b6f0c00, /work/after) this session's changes,
# one after the other, both planned from the same given step costs (those the first demo measured), so that the
# plans are equal whatever the load while each measures.
# As it ran in the session of 2026-12-06, with the paths of the development machine.
set -u
export CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1
py=/work/main/.venv/bin/python
out=/work/evidence/i25-s5
costs="--step-seconds generator/32px-16ch-b16/bf16=0.189 --step-seconds classifier/wrn-16-2/32px/bf16=0.0373 --step-seconds classifier/wrn-16-2/compose-32px-16ch/32px/bf16=0.0494"
for side in before after; do
  rm -rf $out/$side/demo2 $out/$side/cache2; cp -r /work/evidence/cache-b20 $out/$side/cache2
  ( cd /work/$side && PYTHONPATH=/work/$side/src XDG_CACHE_HOME=$out/$side/cache2 $py -m chimeramix compare \
      cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store $out/$side/demo2 $costs --dry-run \
      > $out/$side/demo2-plan.out 2>&1 )
done
diff <(grep -v "^report\|store" $out/before/demo2-plan.out) <(grep -v "^report\|store" $out/after/demo2-plan.out) && echo "plans equal"
for side in before after; do
  echo "demo2 $side start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  ( cd /work/$side && PYTHONPATH=/work/$side/src XDG_CACHE_HOME=$out/$side/cache2 /usr/bin/time -f "%e s" $py -m chimeramix compare \
      cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store $out/$side/demo2 $costs --yes --no-progress \
      > $out/$side/demo2.out 2>&1 )
  echo "demo2 $side done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
done
