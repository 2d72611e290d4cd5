"""GLICO (Azuri & Weinshall 2020; ``shared/docs/baselines.md`` section 2): everything of it in one folder.

Stage 1 fits one latent code per training image, a generator and an auxiliary classifier (a run of its own kind,
``glico``, that the component declares); stage 2, the classifier's method ``glico``, replaces batches by images
generated from spherical interpolations of same-class codes.

- :mod:`.settings`: stage 1's config (:class:`~.settings.GlicoConfig`), how it resolves, the stage-1 run a
  classifier needs, its options of ``generator train --kind glico``;
- :mod:`.hooks`: what the core asks of it: the stage-1 kind of run (``STAGE_ONE``) and its default costs;
- :mod:`.networks`: the latent table and generator G(z, code), the auxiliary classifier, slerp;
- :mod:`.distances`: the reconstruction distances d(x̂, x) (perceptual VGG-16, L1, L1 + Laplacian pyramid);
- :mod:`.objective`: the stage-1 step; :mod:`.trainer`: the stage-1 run (the kind's opener) and its pictures;
- :mod:`.interpolation`: a finished stage-1 run loaded (:func:`~.interpolation.load_glico`), and stage 2's batches.
"""
