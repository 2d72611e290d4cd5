"""Parametric Scattering Networks (Gauthier et al. 2022; ``shared/docs/baselines.md`` section 1): everything of
them in one folder.

The methods ``scattering`` and ``scattering-fixed`` (a front-end component) change the network, not the batches: a
Morlet scattering front end with learnable (or fixed) wavelets under a modified WideResNet, the architecture
``scattering-wrn-W``, which the core builds, trains and draws through the front end's hooks.

- :mod:`.morlet`: the Morlet wavelets as differentiable functions of their parameters, and their initialisations;
- :mod:`.transform`: the scattering transform of order 2 (the front end, :class:`~.transform.Scattering`);
- :mod:`.network`: the top model and the hybrid classifier (:class:`~.network.ScatteringClassifier`);
- :mod:`.pictures`: the picture of a front end's wavelets, drawn by a run at its start and at every checkpoint;
- :mod:`.settings`: its settings (the classifier config's section ``scattering``), PSN's own training recipe and
  their command-line options;
- :mod:`.hooks`: what the core asks of it (:class:`~chimeramix.components.hooks.ComponentHooks`): the settings, the
  network, the schedule, the pictures, the table rows and default step costs.
"""
