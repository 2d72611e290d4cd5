"""ChimeraMix, the method of the paper: everything of it in one folder.

- :mod:`.settings`: the generator's config (:class:`~.settings.GeneratorConfig`), how it resolves, the generator
  a ChimeraMix classifier needs, and the options of ``generator train --kind chimeramix``;
- :mod:`.masks`: the mask samplers (grid, segmentation; N-image weights); :mod:`.segments`: the Felzenszwalb
  segments of a split, cached per image and flip;
- :mod:`.generator`, :mod:`.discriminator`: the mixing generator (f, g) and the PatchGAN discriminator;
- :mod:`.objective`: the G + D step; :mod:`.pairs`: the same-class pair batches; :mod:`.pictures`: the
  generator run's pictures; :mod:`.trainer`: the generator's run;
- :mod:`.frozen_generator`: a finished generator run loaded for use (the generator kind's composer; the core's
  :mod:`chimeramix.methods.frozen_run` checks and loads it for a classifier); :mod:`.pair_mixing`:
  the compositions of a batch with its partners (and GridMix / SegMix in pixel space);
- :mod:`.axes`: the generator's settings a sweep varies (blocks, mixing point, grid cells: Figs. 6 and 7);
- :mod:`.hooks`: what the core asks of its components: the generator as their kind of run (``generator``), its
  composer and what a classifier must match, the compositions and what they cost.
"""
