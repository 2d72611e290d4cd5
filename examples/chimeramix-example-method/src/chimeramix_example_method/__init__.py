"""Example method plug-ins for chimeramix: ``flip-blend`` (a policy), ``pooled`` (a front end), ``half-swap`` (a
pair mixing), ``smooth-ce`` (a loss) and ``latent-mix`` (a pair mixing by a run trained first, an autoencoder).

The package registers its components through the ``chimeramix.methods`` entry point group (``pyproject.toml``):
an entry point's name is the method's name, its object a :class:`~chimeramix.methods.Component` below. This
module imports no PyTorch, so that ``chimeramix --help`` stays fast: ``flip-blend``'s transform lives in
:mod:`chimeramix_example_method.transform`, ``pooled``'s network in :mod:`chimeramix_example_method.front_end`,
both loaded when a run trains; ``pooled``'s settings, option and network name, ``half-swap``'s mixing and
``smooth-ce``'s loss, ``latent-mix``'s first run and compositions are their hooks
(:mod:`chimeramix_example_method.hooks`).
"""

from __future__ import annotations

from chimeramix.methods import Component

FLIP_BLEND = Component(
    "policy",
    "flip-blend (an example plug-in): with probability 0.5, each image blended with its upside-down copy at a "
    "weight uniform in [0, 0.3]",
    transform="chimeramix_example_method.transform:flip_blend",
)

POOLED = Component(
    "front-end",
    "pooled (an example plug-in): average pooling over K x K pixels (--pooled-kernel, 2) under a WideResNet-10 "
    "(architecture pooled-wrn-W)",
    hooks="chimeramix_example_method.hooks:HOOKS",
)

HALF_SWAP = Component(
    "pair-mixing",
    "half-swap (an example plug-in): with probability pair_mixing_p, one half of each image (left, right, top or "
    "bottom) replaced by the same half of a same-class partner",
    hooks="chimeramix_example_method.hooks:HALF_SWAP_HOOKS",
)

SMOOTH_CE = Component(
    "loss",
    "smooth-ce (an example plug-in): cross-entropy with label smoothing 0.1",
    hooks="chimeramix_example_method.hooks:SMOOTH_CE_HOOKS",
)

LATENT_MIX = Component(
    "pair-mixing",
    "latent-mix (an example plug-in): with probability pair_mixing_p, each image replaced by the decoded mix of "
    "its code and a same-class partner's, by an autoencoder fitted to the split first (generator train --kind "
    "autoencoder)",
    first_run="autoencoder",
    hooks="chimeramix_example_method.hooks:LATENT_MIX_HOOKS",
)
