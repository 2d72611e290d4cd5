"""What the core asks of the image-space components (:class:`~chimeramix.components.hooks.ComponentHooks`) beyond
their transforms: the cosine loss's settings, option and criterion."""

from __future__ import annotations

from chimeramix.components.hooks import ComponentHooks
from chimeramix.methods.image_space import settings

COSINE_LOSS_HOOKS = ComponentHooks(section=settings.SECTION, settings=settings.CosineSettings,
                                   add_arguments=settings.add_arguments, from_arguments=settings.from_arguments,
                                   criterion="chimeramix.methods.image_space.cosine_loss:cosine_criterion")
"""The hooks of ``cosine-loss``."""
