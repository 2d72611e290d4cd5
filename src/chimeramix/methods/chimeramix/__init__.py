"""ChimeraMix, the method of the paper: everything of it in one folder.

- :mod:`.masks`: the mask samplers (grid, segmentation; N-image weights); :mod:`.segments`: the Felzenszwalb
  segments of a split, cached per image and flip;
- :mod:`.generator`, :mod:`.discriminator`: the mixing generator (f, g) and the PatchGAN discriminator;
- :mod:`.objective`: the G + D step; :mod:`.pairs`: the same-class pair batches; :mod:`.pictures`: the
  generator run's pictures; :mod:`.trainer`: the generator's run (the generator kind of
  :mod:`chimeramix.runkinds` opens it);
- :mod:`.frozen_generator`: a finished generator run loaded for a classifier, and its check; :mod:`.pair_mixing`:
  the compositions of a batch with its partners (and GridMix / SegMix in pixel space);
- :mod:`.hooks`: what the core asks of its components (the generator's check, a ``check`` hook).
"""
