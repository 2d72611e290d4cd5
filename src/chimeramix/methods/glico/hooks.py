"""What the core asks of GLICO (:class:`~chimeramix.components.hooks.ComponentHooks`): its stage 1 as a kind of run
of its own, which a ``glico`` classifier needs first (and checks as ChimeraMix's classifiers check their generator,
before the run folder is written, and composes through as they do), and what a stage-1 step costs until measured."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks, Composing, RunKind
from chimeramix.methods.glico import settings

STAGE_ONE = RunKind(
    settings.GlicoConfig, settings.resolve_glico, "chimeramix.methods.glico.trainer:open_glico_run",
    "chimeramix.methods.glico.trainer:pack_key", settings.cost_part, lambda config: "latents",
    "GLICO stage-1 runs", {"cpu": 10.0, "cuda": 15.0},
    Composing(title="GLICO stage 1", method_label="GLICO",
              composer="chimeramix.methods.glico.interpolation:latent_interpolation",
              sampler="chimeramix.methods.glico.trainer:sample_picture",
              sample_rows="interpolation strips (x_i, G at t = 0 .. 1 towards a same-class x_j, then x_j)",
              add_arguments=settings.add_arguments, from_arguments=settings.from_arguments,
              summary=settings.summary))
"""GLICO's stage 1: latent codes, generator and auxiliary classifier fitted to the split (its run folders'
variant is ``latents``)."""

HOOKS = ComponentHooks(
    run_kind=STAGE_ONE,
    first_run_config=settings.stage_one_config,
    check="chimeramix.methods.frozen_run:check_first_run",
    pair_mixing="chimeramix.methods.frozen_run:frozen_pair_mixing",
    step_seconds={"cpu": {"glico/32px-b32": 0.15, "glico/32px-b128": 0.6, "glico": 0.6},
                  "cuda": {"glico": 0.005}},
)
