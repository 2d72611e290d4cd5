#!/usr/bin/env bash
# Calibration 2: which generator helps a 10k-step WRN-16-2 classifier (bf16, one core), seed $1.
#   a: 32 px, 16 ch, 1565 steps   b: 64 px, 16 ch, 785 steps   d: 32 px, 16 ch, 3130 steps   (batch 16, lr 5e-4)
set -u
seed=$1
cd /work/calib
export PYTHONPATH=/work/calib/src CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 XDG_CACHE_HOME=/work/evidence/cache-calib
CM=".venv/bin/python -m chimeramix"
out=/work/evidence/calib2
mkdir -p $out
gen() {  # name size epochs repetition
    [ -f $out/gen-$1-s$seed/result.json ] || [ -f /work/evidence/calib1/gen-grid-s$seed/result.json -a "$1" = a ] || \
    /usr/bin/time -v $CM generator train --dataset cifar10 --k 10 --seed $seed --mask grid --working-size $2 \
        --base-channels 16 --batch-size 16 --epochs $3 --repetition $4 --lr 5e-4 --checkpoint-every 5 --device cpu \
        --no-progress --yes --out $out/gen-$1-s$seed > $out/gen-$1-s$seed.log 2>&1
}
cls() {  # name generator-dir-or-empty
    local method=baseline extra=""
    if [ -n "$2" ]; then method=chimeramix-grid; extra="--allow-mismatch --generator $2"; fi
    /usr/bin/time -v $CM classifier train --dataset cifar10 --k 10 --seed $seed --method $method --preset paper \
        --architecture wrn-16-2 --epochs 20 --repetition 500 --eval-every 5 --checkpoint-every 5 --device cpu \
        --no-progress --yes $extra --out $out/cls-$1-s$seed > $out/cls-$1-s$seed.log 2>&1
}
gen a 32 5 500
gen b 64 5 250
gen d 32 10 500
ga=$out/gen-a-s$seed; [ -f $ga/result.json ] || ga=/work/evidence/calib1/gen-grid-s$seed
cls baseline ""
cls a $ga
cls b $out/gen-b-s$seed
cls d $out/gen-d-s$seed
