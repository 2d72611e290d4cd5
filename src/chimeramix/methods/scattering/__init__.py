"""Parametric Scattering Networks (Gauthier et al. 2022; ``shared/docs/baselines.md`` section 1): everything of
them in one folder.

The methods ``scattering`` and ``scattering-fixed`` (a front-end component) change the network, not the batches: a
Morlet scattering front end with learnable (or fixed) wavelets under a modified WideResNet, the architecture
``scattering-wrn-W`` (built by :func:`chimeramix.models.classifiers.build_classifier`).

- :mod:`.morlet`: the Morlet wavelets as differentiable functions of their parameters, and their initialisations;
- :mod:`.transform`: the scattering transform of order 2 (the front end, :class:`~.transform.Scattering`);
- :mod:`.network`: the top model and the hybrid classifier (:class:`~.network.ScatteringClassifier`);
- :mod:`.pictures`: the picture of a front end's wavelets, drawn by a run at its start and at every checkpoint.
"""
