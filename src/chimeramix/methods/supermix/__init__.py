"""SuperMix (Dabouei et al. 2021; ``shared/docs/baselines.md`` section 3): everything of it in one folder.

The classifier's method ``supermix`` (a teacher-mixing component): a frozen teacher, a baseline classifier run of the
same split trained first, optimises per-pixel masks mixing K images; the student learns from real and mixed batches.

- :mod:`.mask_optimisation`: the masks a teacher optimises, batched on the device
  (:class:`~.mask_optimisation.SuperMix`);
- :mod:`.student`: the student's side: its teacher (checked against the split), the pool of mixes, the batches (real
  plus mixes, Eq. 9 as targets) and the picture;
- :mod:`.settings`: its settings (the classifier config's section ``supermix``), the quick preset's values, its
  command-line options and what its cost depends on;
- :mod:`.hooks`: what the core asks of it (:class:`~chimeramix.components.hooks.ComponentHooks`): the settings, the
  batches, the pool of mixes (a cost unit of its own), its runs training alone, its default step costs.
"""
