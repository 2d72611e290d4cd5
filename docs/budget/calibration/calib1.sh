#!/usr/bin/env bash
# Calibration 1: the first guess at a 20-minute plan, seed $1 (baseline and chimeramix-grid in parallel).
set -u
seed=$1
cd /work/calib
export PYTHONPATH=/work/calib/src CHIMERAMIX_DATA=/work/shared/data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
out=/work/evidence/calib1
mkdir -p $out
CM=".venv/bin/python -m chimeramix"
( /usr/bin/time -v $CM classifier train --dataset cifar10 --k 10 --seed $seed --method baseline --preset paper \
    --architecture wrn-16-2 --epochs 60 --repetition 500 --eval-every 10 --checkpoint-every 5 --device cpu --no-progress --yes \
    --out $out/cls-baseline-s$seed > $out/baseline-s$seed.log 2>&1 ) &
( /usr/bin/time -v $CM generator train --dataset cifar10 --k 10 --seed $seed --mask grid --preset paper --working-size 32 \
    --base-channels 16 --batch-size 16 --epochs 5 --repetition 500 --lr 5e-4 --checkpoint-every 1 --device cpu --no-progress --yes \
    --out $out/gen-grid-s$seed > $out/gen-grid-s$seed.log 2>&1 ;
  /usr/bin/time -v $CM classifier train --dataset cifar10 --k 10 --seed $seed --method chimeramix-grid --preset paper \
    --architecture wrn-16-2 --epochs 44 --repetition 500 --eval-every 11 --checkpoint-every 4 --device cpu --no-progress --yes \
    --allow-mismatch --generator $out/gen-grid-s$seed --out $out/cls-grid-s$seed > $out/grid-s$seed.log 2>&1 ) &
wait
