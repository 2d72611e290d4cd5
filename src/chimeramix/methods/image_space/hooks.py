"""What the core asks of the image-space components (:class:`~chimeramix.components.hooks.ComponentHooks`): the
cosine loss's criterion."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks

COSINE_LOSS_HOOKS = ComponentHooks(criterion="chimeramix.methods.image_space.cosine_loss:cosine_criterion")
"""The hooks of ``cosine-loss``."""
