"""What the core asks of SuperMix (:class:`~chimeramix.components.hooks.ComponentHooks`): the student's settings,
its batches (real plus mixes under the teacher), its pool of mixes, its quick values and its costs."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks
from chimeramix.methods.supermix import settings

HOOKS = ComponentHooks(
    section=settings.SECTION,
    settings=settings.SuperMixConfig,
    resolve=settings.resolve_supermix,
    preset_settings={"quick": settings.QUICK},
    add_arguments=settings.add_arguments,
    from_arguments=settings.from_arguments,
    check="chimeramix.methods.supermix.student:check_teacher",
    batches="chimeramix.methods.supermix.student:student_batches",
    packs_alone=True,
    cost_variant=settings.cost_variant,
    pool_mixes=settings.pool_mixes,
    pool_file=settings.POOL_FILE,
    # rough extrapolations: the students from their ratio to the baseline on a busy machine (docs/supermix-quick),
    # the pool's 0.5-1.0 s per mix under a quick WRN-16-2 teacher (docs/issue12-quick), WRN-16-8's by its step
    step_seconds={"cpu": {"classifier/wrn-16-2/supermix-pool": 0.1, "classifier/wrn-16-2/supermix-fly": 0.5,
                          "classifier/wrn-16-2/supermix-pool-mix": 0.7, "classifier/wrn-16-8/supermix-pool-mix": 8.0,
                          "supermix-pool-mix": 8.0},
                  "cuda": {"classifier/wrn-16-8/supermix-pool": 0.01, "classifier/wrn-16-8/supermix-fly": 0.1,
                           "classifier/wrn-16-8/supermix-pool-mix": 0.02, "supermix-pool-mix": 0.02}},
)
