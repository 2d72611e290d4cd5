"""What the core knows of the methods: the registry of method components (:mod:`~chimeramix.components.registry`)
and the hooks a component declares (:mod:`~chimeramix.components.hooks`). Neither imports PyTorch nor a method's
code: a component names its hooks as ``module:NAME`` references, loaded when first needed. The methods
themselves live under :mod:`chimeramix.methods`, one folder per family.

The methods of installed plug-ins register on the registry's first look-up
(:func:`~chimeramix.components.registry.components`; ``docs/adding-a-method.md``).
"""
