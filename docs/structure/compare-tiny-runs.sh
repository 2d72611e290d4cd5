#!/usr/bin/env bash
# Tiny runs of fifteen kinds with the code in $1 (a src folder, e.g. a worktree's) into $2 (emptied first); prints
# losses, accuracies and weight hashes. Run it for two commits and diff the outputs (issue 25, point 5).
here=$(cd "$(dirname "$0")/../.." && pwd)
src=$(cd "$1" && pwd); out=$2; rm -rf "$out"; mkdir -p "$out"; out=$(cd "$out" && pwd)
export TINY=$out/tiny-data
export PYTHONPATH=$src:$here/tests OMP_NUM_THREADS=1 XDG_CACHE_HOME=$out/cache
py=$here/.venv/bin/python
$py - <<'PY'
import os
import numpy as np
from pathlib import Path
from conftest import fabricate_split, write_npz, TINY_TRAIN_PER_CLASS, TINY_TEST_PER_CLASS
root = Path(os.environ["TINY"]); rng = np.random.default_rng(1234)
write_npz(root / "cifar10" / "train.npz", fabricate_split(rng, TINY_TRAIN_PER_CLASS))
write_npz(root / "cifar10" / "test.npz", fabricate_split(rng, TINY_TEST_PER_CLASS))
PY
data="--dataset cifar10 --k 2 --data-root $TINY --device cpu --no-progress --yes"
$py -m chimeramix generator train --kind glico $data --preset quick --epochs 2 --repetition 4 --batch-size 8 --distance l1 --out $out/glico > $out/glico.log 2>&1 || echo "glico failed"
$py -m chimeramix generator train $data --preset quick --epochs 2 --repetition 4 --batch-size 8 --out $out/gen > $out/gen.log 2>&1 || echo "gen failed"
common="$data --epochs 2 --repetition 4 --batch-size 8 --architecture wrn-10-1"
for m in baseline gridmix segmix cosine-loss mixup+cutout trivialaugment; do
  $py -m chimeramix classifier train $common --method $m --out $out/cls-$m > $out/cls-$m.log 2>&1 || echo "cls $m failed"
done
$py -m chimeramix classifier train $common --method cosine-loss --cosine-with-ce --out $out/cls-cosine-ce > $out/cls-cosine-ce.log 2>&1 || echo "cls cosine-ce failed"
$py -m chimeramix classifier train $common --method segmix --recipe released --out $out/cls-segmix-rel > $out/cls-segmix-rel.log 2>&1 || echo "cls segmix-rel failed"
for m in random-erasing cutout; do
  $py -m chimeramix classifier train $common --method $m --recipe released --out $out/cls-$m-rel > $out/cls-$m-rel.log 2>&1 || echo "cls $m-rel failed"
done
$py -m chimeramix classifier train $common --method random-erasing --out $out/cls-random-erasing > $out/cls-random-erasing.log 2>&1 || echo "cls random-erasing failed"
$py -m chimeramix classifier train $common --method glico --generator $out/glico --out $out/cls-glico > $out/cls-glico.log 2>&1 || echo "cls glico failed"
$py -m chimeramix classifier train $common --method chimeramix-grid --generator $out/gen --out $out/cls-grid > $out/cls-grid.log 2>&1 || echo "cls grid failed"
$py - "$out" <<'PY'
import json, sys, hashlib
from pathlib import Path
out = Path(sys.argv[1])
for run in sorted(out.glob("*/result.json")):
    r = json.loads(run.read_text())
    print(run.parent.name, r.get("method", ""), [{k: round(v, 6) for k, v in row.items() if isinstance(v, float) and k in ("loss", "rec", "ce", "loss_d")} for row in r.get("log", [])], r.get("metrics", {}).get("accuracy"), {k: v for k, v in r["segmentation"].items() if k != "seconds"} if r.get("segmentation") else None)
for f in sorted(out.glob("*/*.safetensors")) + sorted(out.glob("*/model/*.safetensors")):
    print(f.relative_to(out), hashlib.sha256(f.read_bytes()).hexdigest()[:16])
PY
