"""What the core asks of ChimeraMix's components (:class:`~chimeramix.components.hooks.ComponentHooks`) beyond what
the core's generator kind of run already is: the check of the generator a classifier composes with, before the
classifier's run folder is written, and the compositions; and the pair mixing of GridMix and SegMix (pixels under
the same masks, paper Table 3)."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks

HOOKS = ComponentHooks(check="chimeramix.methods.chimeramix.frozen_generator:check_first_run",
                       pair_mixing="chimeramix.methods.chimeramix.frozen_generator:frozen_pair_mixing")
"""The hooks of ``chimeramix-grid``, ``chimeramix-seg`` and the multi-image components."""
PIXEL_HOOKS = ComponentHooks(pair_mixing="chimeramix.methods.chimeramix.pair_mixing:pixel_pair_mixing")
"""The hooks of ``gridmix`` and ``segmix``."""
