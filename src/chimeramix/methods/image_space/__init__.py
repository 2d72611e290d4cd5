"""The image-space methods of the paper's tables: transforms of a batch's pixels and labels that need no network
and no first run, and the cosine loss; everything of them in one folder. Each module is one role of the registry.

- :mod:`.policies`: ``autoaugment`` and ``trivialaugment`` (torchvision v2, one image at a time; the registry names
  them as each entry's ``transform``);
- :mod:`.erasing`: ``cutout`` (DeVries & Taylor 2017) and ``random-erasing`` (Zhong et al. 2020), each an erasing
  stage its entry's ``transform`` makes;
- :mod:`.label_mixing`: ``mixup`` (Zhang et al. 2018) and ``cutmix`` (Yun et al. 2019), each its entry's
  ``transform``;
- :mod:`.cosine_loss`: ``cosine-loss`` (Barz & Denzler 2020), the classifier's loss; :mod:`.settings`: its own
  setting (``--cosine-with-ce``, its section of the classifier config);
- :mod:`.hooks`: what the core asks of them (the cosine loss's settings, option and criterion).

The per-step augmentation that runs these stages in a recipe's order, and the crop, flip and normalisation every
method applies, are the core (:mod:`chimeramix.methods.augmentation`, :mod:`chimeramix.image_ops`).
GridMix and SegMix, which mix same-class pairs in pixel space, are in ChimeraMix's folder
(:mod:`chimeramix.methods.chimeramix.pair_mixing`): they are ChimeraMix without its generator (the paper's Table 3
ablation), the same class under the same masks.
"""
