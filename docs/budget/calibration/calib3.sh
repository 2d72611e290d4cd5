#!/usr/bin/env bash
# Calibration 3: the classifier's width. WRN-16-4 for 8k steps (bf16, one core), baseline and ChimeraMix+Grid
# with generator a (32 px, 16 ch, 1565 steps), seed $1.
set -u
seed=$1
cd /work/calib
export PYTHONPATH=/work/calib/src CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 XDG_CACHE_HOME=/work/evidence/cache-calib
CM=".venv/bin/python -m chimeramix"
out=/work/evidence/calib3
mkdir -p $out
ga=/work/evidence/calib2/gen-a-s$seed; [ -f $ga/result.json ] || ga=/work/evidence/calib1/gen-grid-s$seed
cls() {  # name generator-dir-or-empty
    local method=baseline extra=""
    if [ -n "$2" ]; then method=chimeramix-grid; extra="--allow-mismatch --generator $2"; fi
    /usr/bin/time -v $CM classifier train --dataset cifar10 --k 10 --seed $seed --method $method --preset paper \
        --architecture wrn-16-4 --epochs 16 --repetition 500 --eval-every 4 --checkpoint-every 4 --device cpu \
        --no-progress --yes $extra --out $out/cls-$1-s$seed > $out/cls-$1-s$seed.log 2>&1
}
cls baseline ""
cls a $ga
