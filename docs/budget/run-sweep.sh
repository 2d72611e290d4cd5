#!/usr/bin/env bash
# An evidence sweep from the fixed worktree /work/evid (a commit of main), two workers on the 2-core machine,
# its own cost cache (EVIDENCE_CACHE, default /work/evidence/cache), the machine's load logged every minute beside it.
#   run-sweep.sh NAME chimeramix-sweep-arguments...
set -u
name=$1; shift
cd /work/evid
export PYTHONPATH=/work/evid/src CHIMERAMIX_DATA=/work/shared/data XDG_CACHE_HOME=${EVIDENCE_CACHE:-/work/evidence/cache}
mkdir -p /work/evidence/$name
git -C /work/evid log --oneline -1 > /work/evidence/$name/commit.txt
( while true; do echo "$(date '+%F %T') $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 60; done ) >> /work/evidence/$name/load.log &
logger=$!
start=$(date +%s)
/work/main/.venv/bin/python -m chimeramix sweep "$@" --workers 2 --device cpu --store /work/evidence/$name/store \
    --no-progress --yes > /work/evidence/$name/sweep.out 2>&1
code=$?
echo "exit $code after $(( $(date +%s) - start )) s" >> /work/evidence/$name/sweep.out
kill $logger
