#!/usr/bin/env bash
# Issue 25 point 5, this session: the quick baseline, a packed quick sweep and the demo with the code before the
# session (d07ef02, /work/before) and after the layering and plug-in commits (b6f0c00, /work/after); the quick
# runs side by side (one thread each), the demos one after the other, each from a copy of one cost cache.
# As it ran in the session of 2026-12-06, with the paths of the development machine.
set -u
export CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1
py=/work/main/.venv/bin/python
out=/work/evidence/i25-s5
for side in before after; do
  rm -rf $out/$side; mkdir -p $out/$side
  cp -r /work/evidence/cache-b20 $out/$side/cache
done
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/$side && PYTHONPATH=/work/$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix run \
      --dataset cifar10 --k 10 --seed 0 --method baseline --preset quick --device cpu --out $out/$side/run --no-progress --yes \
      > $out/$side/run.out 2>&1 ) &
done
wait
echo "quick done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/$side && PYTHONPATH=/work/$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix sweep \
      --datasets cifar10 --methods baseline --k 10 --seeds 0-1 --preset quick --pack 2 --workers 1 --device cpu \
      --store $out/$side/store --no-progress --yes > $out/$side/sweep.out 2>&1 ) &
done
wait
echo "packed done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  ( cd /work/$side && PYTHONPATH=/work/$side/src XDG_CACHE_HOME=$out/$side/cache /usr/bin/time -f "%e s" $py -m chimeramix compare \
      cifar10 --k 10 --seeds 0 --methods baseline,chimeramix-seg --budget 10 --workers 2 --store $out/$side/demo --yes --no-progress \
      > $out/$side/demo.out 2>&1 )
  echo "demo $side done $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
done
