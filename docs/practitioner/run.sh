#!/usr/bin/env bash
# The practitioner's path end to end on a folder of real photos, CPU-sized (quick preset):
#   bash docs/practitioner/run.sh /tmp/practitioner
# builds the photo folder (make_photos.py), fits a ChimeraMix classifier, classifies new photos, exports ONNX
# and checks it against PyTorch, writes the report (and a screenshot when chromium is installed), then compares
# baseline and chimeramix-grid over 3 folds. Needs the chimeramix command (or PYTHONPATH=src and python -m).
set -euo pipefail
ROOT=${1:-/tmp/practitioner}
CMX=${CHIMERAMIX:-chimeramix}
HERE=$(cd "$(dirname "$0")" && pwd)
step() { echo; echo "== $*"; }
rm -rf "$ROOT"
python "$HERE/make_photos.py" "$ROOT"

step fit; start=$SECONDS
$CMX run --dataset "folder:$ROOT/photos" --method chimeramix-grid --preset quick --out "$ROOT/runs" --no-progress
echo "wall: $((SECONDS - start)) s"
RUN=$(ls -d "$ROOT"/runs/classifier-*-chimeramix-grid-quick)

step predict; start=$SECONDS
$CMX predict "$RUN" "$ROOT/new" --tta flip --output "$ROOT/predictions.csv" || echo "(exit code $?: unreadable files)"
echo "wall: $((SECONDS - start)) s"

step export and ONNX check; start=$SECONDS
$CMX export "$RUN" --format onnx
python "$HERE/check_onnx.py" "$RUN" "$ROOT/new"
echo "wall: $((SECONDS - start)) s"

step report; start=$SECONDS
$CMX report "$RUN"
echo "wall: $((SECONDS - start)) s"
if command -v chromium > /dev/null; then
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3600 \
        --screenshot="$ROOT/report.png" "file://$RUN/report.html" 2> /dev/null && echo "screenshot: $ROOT/report.png"
fi

step compare; start=$SECONDS
$CMX compare "folder:$ROOT/photos" --methods baseline,chimeramix-grid --folds 3 --preset quick \
    --store "$ROOT/compare" --no-progress --yes
$CMX report "$ROOT/compare"
echo "wall: $((SECONDS - start)) s"
