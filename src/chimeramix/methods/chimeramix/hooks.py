"""What the core asks of ChimeraMix's components (:class:`~chimeramix.components.hooks.ComponentHooks`): the
generator as a kind of run of their own (:data:`GENERATOR`), which a ChimeraMix classifier needs first, checks
before its run folder is written and composes with; what its compositions add to a classifier step's cost; and the
pair mixing of GridMix and SegMix (pixels under the same masks, paper Table 3)."""

from __future__ import annotations

from chimeramix.budget import GENERATOR_FIELDS
from chimeramix.components.hooks import ComponentHooks, Composing, RunBudget, RunKind
from chimeramix.methods.chimeramix import axes, settings

GENERATOR = RunKind(
    settings.GeneratorConfig, settings.resolve_generator, "chimeramix.methods.chimeramix.trainer:open_generator_run",
    "chimeramix.methods.chimeramix.trainer:pack_key", settings.cost_part, lambda generator: generator.masks.label,
    "generators", {"cpu": 10.0, "cuda": 15.0},
    Composing(title="generator", method_label=settings.method_label,
              composer="chimeramix.methods.chimeramix.frozen_generator:generator_composer",
              sampler="chimeramix.methods.chimeramix.pictures:sample_picture",
              sample_rows="pairs (x1, x2, three compositions)", add_arguments=settings.add_arguments,
              from_arguments=settings.from_arguments, summary=settings.summary, option="chimeramix",
              problems=settings.generator_problems),
    job_prefix="gen", job_variant=settings.masks_label, axes=axes.SWEEP_AXES,
    budget=RunBudget(GENERATOR_FIELDS, settings.budget_summary))
"""ChimeraMix's generator and discriminator trained on the split (its run folders' variant is the masks' label:
``grid``, ``seg``, ``seg-n3``; a sweep may vary its blocks, mixing point and grid cells, :mod:`.axes`; a time
budget sets its networks and steps, :func:`.settings.generator_config_for`); overheads: start-up, data, segments
and pictures."""

HOOKS = ComponentHooks(run_kind=GENERATOR, first_run_config=settings.generator_config_for,
                       check="chimeramix.methods.frozen_run:check_first_run",
                       pair_mixing="chimeramix.methods.frozen_run:frozen_pair_mixing",
                       cost_variant=settings.compose_cost_variant,
                       step_seconds={"cpu": {"generator/32px-16ch-b16": 0.19, "generator/64px-16ch-b16": 0.75,
                                             "generator/96px-16ch-b16": 1.7, "generator/64px-64ch-b64": 20.0,
                                             "generator": 20.0},
                                     "cuda": {"generator/64px-64ch-b64": 0.03, "generator/96px-64ch-b8": 0.03,
                                              "generator": 0.03}})
"""The hooks of ``chimeramix-grid``, ``chimeramix-seg`` and the multi-image components. Seconds per generator step
until this machine has measured its own: on an idle 2-core AMD EPYC (2 threads, the whole trainer) the quick
preset's generator took 113 s for 152 steps (``docs/training-core``); at a 96 px working size its 64 px step is
scaled by the pixels (2.25 times); the budget's generator at 32 px was measured by the demo's first step-cost trial
on the 2-core Intel Xeon, one thread for each of two workers (0.185-0.194 s, ``docs/structure/after.md``), so that
``--dry-run`` plans a budget sensibly before this machine has measured; the paper's generator (64 channels, batch
64) is a rough extrapolation; the CUDA figures are guesses until measured on a GPU."""
PIXEL_HOOKS = ComponentHooks(pair_mixing="chimeramix.methods.chimeramix.pair_mixing:pixel_pair_mixing")
"""The hooks of ``gridmix`` and ``segmix``."""
