"""What the core asks of ChimeraMix's components (:class:`~chimeramix.methods.hooks.ComponentHooks`) beyond what
the core's generator kind of run already is: the check of the generator a classifier composes with, before the
classifier's run folder is written."""

from __future__ import annotations

from chimeramix.methods.hooks import ComponentHooks

HOOKS = ComponentHooks(check="chimeramix.methods.chimeramix.frozen_generator:check_first_run")
"""The hooks of ``chimeramix-grid``, ``chimeramix-seg`` and the multi-image components."""
