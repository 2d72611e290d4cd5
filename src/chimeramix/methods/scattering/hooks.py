"""What the core asks of the scattering front end (:class:`~chimeramix.components.hooks.ComponentHooks`): its
settings, its network ``scattering-wrn-W``, PSN's schedule, the wavelets' pictures and its default step costs."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks, FrontEnd
from chimeramix.methods.scattering import settings

HOOKS = ComponentHooks(
    section=settings.SECTION,
    settings=settings.ScatteringConfig,
    resolve=settings.resolve_scattering,
    add_arguments=settings.add_arguments,
    from_arguments=settings.from_arguments,
    front_end=FrontEnd("scattering-wrn-{width}", "chimeramix.methods.scattering.network:build_network",
                       {"paper": 8, "quick": 2}),
    lr_schedule="chimeramix.methods.scattering.settings:one_cycle",
    pictures="chimeramix.methods.scattering.pictures:draw_wavelets",
    table_variant=settings.table_variant,
    # the quick network measured on the loaded 2-core machine (docs/scattering-quick: 99 s for 500 steps); the
    # others scaled from it and from WRN-16-8's step
    step_seconds={"cpu": {"classifier/scattering-wrn-2": 0.2, "classifier/scattering-wrn-8": 1.5},
                  "cuda": {"classifier/scattering-wrn-8": 0.012}},
)
