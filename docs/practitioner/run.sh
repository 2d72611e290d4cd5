#!/usr/bin/env bash
# The practitioner's path end to end on a folder of real photos, CPU-sized (quick preset):
#   bash docs/practitioner/run.sh /tmp/practitioner
# builds the photo folder (make_photos.py), fits a classifier at the size chosen from the photos (96 px, the
# STL-10 protocol), classifies new photos, exports ONNX and checks it against PyTorch, writes the report (and a
# screenshot when chromium is installed), then compares baseline and chimeramix-grid over 3 folds at 32 px (a
# 96 px generator is ~20 s a step on a busy 2-core CPU). Needs the chimeramix command (or PYTHONPATH=src and
# CHIMERAMIX="python -m chimeramix").
set -euo pipefail
ROOT=${1:-/tmp/practitioner}
CMX=${CHIMERAMIX:-chimeramix}
HERE=$(cd "$(dirname "$0")" && pwd)
step() { echo; echo "== $*"; }
rm -rf "$ROOT"
python "$HERE/make_photos.py" "$ROOT"

step fit; start=$SECONDS
$CMX run --dataset "folder:$ROOT/photos" --method baseline --preset quick --out "$ROOT/runs" --no-progress --yes
echo "wall: $((SECONDS - start)) s"
RUN=$(ls -d "$ROOT"/runs/classifier-*-baseline-quick)

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
    --folder-image-size 32 --store "$ROOT/compare" --no-progress --yes
echo "wall: $((SECONDS - start)) s"
$CMX report "$ROOT/compare"
FOLD=$(ls -d "$ROOT"/compare/runs/cls-*-s0-chimeramix-grid-quick)
$CMX report "$FOLD"
if command -v chromium > /dev/null; then
    for page in "$ROOT/compare" "$FOLD"; do
        chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3600 \
            --screenshot="$page/report.png" "file://$page/report.html" 2> /dev/null && echo "screenshot: $page/report.png"
    done
fi
