"""Plans of a set of sweeps as JSON (job ids, kinds, configs, dependencies, steps, cost keys and the default cost
each key finds), with the code on ``PYTHONPATH``: run it for two commits and compare the outputs (issue 25,
point 5). Usage: ``PYTHONPATH=SRC python dump-plans.py OUT.json`` (needs ``CHIMERAMIX_DATA`` for nothing: the
built-in datasets' sizes are the registry's)."""

import json
import sys

from chimeramix.cli import build_parser
from chimeramix.cli.sweep import _sweep_spec
from chimeramix.experiments.costs import CostBook
from chimeramix.experiments.plan import plan_sweep

SWEEPS = [
    "--datasets cifar10,stl10 --methods baseline,chimeramix-grid,chimeramix-seg,gridmix,segmix --k 5,10 --seeds 0-1",
    "--datasets cifar10 --methods chimeramix-seg+trivialaugment,chimeramix-grid-n3,chimeramix-seg-n4-soft --k 10 "
    "--seeds 0 --preset quick",
    "--datasets cifar10 --methods chimeramix-grid,chimeramix-seg --k 10 --seeds 0 --preset quick "
    "--generator-set epochs=3 --generator-set masks.grid_cells=8",
    "--datasets cifar10 --methods chimeramix-grid,baseline --k 10 --seeds 0 --preset quick "
    "--generator-axis grid_cells=2,4,8 --generator-axis blocks=4,6",
    "--datasets cifar10 --methods chimeramix-seg --k 10 --seeds 0 --recipe released",
    "--datasets cifar10 --methods glico,supermix,scattering+chimeramix-seg,mixup,cosine-loss --k 10 --seeds 0 "
    "--preset quick --first-run-set glico.epochs=3",
    "--datasets cifar10 --methods glico,chimeramix-grid,supermix --k 5 --seeds 0 --recipe released "
    "--first-run-set glico.gamma=0.25 --generator-set masks.images=3",
    "--datasets cifar10 --methods baseline,chimeramix-seg,chimeramix-grid-n3 --k 10,20 --seeds 0 --budget 10",
    "--datasets cifar10 --methods baseline,chimeramix-seg --k 5 --seeds 0 --budget 20",
]

out = {}
parser = build_parser()
for line in SWEEPS:
    args = parser.parse_args(["sweep", *line.split(), "--store", "/tmp/unused-store", "--device", "cpu"])
    book = CostBook("cpu")
    jobs = plan_sweep(_sweep_spec(args), book)
    out[line] = [{**job.to_dict(), "cost_key": job.cost_key, "cost": book.describe(job.cost_key)} for job in jobs]
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print(f"{sum(len(jobs) for jobs in out.values())} jobs of {len(out)} sweeps written to {sys.argv[1]}")
