"""An example method plug-in for chimeramix: ``flip-blend``.

The package registers one component through the ``chimeramix.methods`` entry point group (``pyproject.toml``):
the entry point's name is the method's name, its object the :class:`~chimeramix.methods.Component` below. This
module imports no PyTorch, so that ``chimeramix --help`` stays fast; the transform lives in
:mod:`chimeramix_example_method.transform` and is loaded when a run trains.
"""

from __future__ import annotations

from chimeramix.methods import Component

FLIP_BLEND = Component(
    "policy",
    "flip-blend (an example plug-in): with probability 0.5, each image blended with its upside-down copy at a "
    "weight uniform in [0, 0.3]",
    transform="chimeramix_example_method.transform:flip_blend",
)
