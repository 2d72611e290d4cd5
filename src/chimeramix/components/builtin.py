"""The built-in method components, one entry each, whose keys are the command-line names.

A method is one component or several joined by ``+`` (``chimeramix-seg+trivialaugment``, ``cutout+mixup``).
Every component has a role, and a method holds at most one component per role:

- ``baseline``: only the protocol's reflect-padded random crop and horizontal flip (which every method
  applies); it stands alone.
- front end (``scattering``, ``scattering-fixed``): Parametric Scattering Networks (Gauthier et al. 2022): the
  network, not the batches, changes: a Morlet scattering front end with learnable (or fixed) wavelets under the
  modified WideResNet of the architecture ``scattering-wrn-W`` (:mod:`chimeramix.methods.scattering`), the
  default architecture of these methods (``scattering-wrn-8``; the quick preset ``scattering-wrn-2``). It
  combines with every augmentation below.
- mixing, at most one of
  - pair mixing (``gridmix``, ``segmix``, ``chimeramix-grid``, ``chimeramix-seg``, ``glico``): with
    probability ``pair_mixing_p`` (0.5) the whole batch is replaced by compositions of each image with a
    same-class partner of the training subset; labels are unchanged. GridMix / SegMix mix pixels under the mask
    (paper Table 3); ChimeraMix lets the frozen generator mix features; GLICO generates from a spherical
    interpolation of the pair's latent codes. Multi-image ChimeraMix (``chimeramix-grid-n3``,
    ``chimeramix-seg-n4``, ``chimeramix-seg-n3-soft``: N images, hard or Dirichlet-weighted masks) composes
    each image with N - 1 partners; ``-n2`` (hard) is plain ChimeraMix.
  - label mixing (``mixup``, ``cutmix``): every batch, lambda ~ Beta(1, 1), soft labels (torchvision v2).
  - teacher mixing (``supermix``): with probability ``pair_mixing_p`` a batch of SuperMix mixes, whose masks a
    frozen teacher (a classifier run of the same split) optimised, is added to the real batch; the student
    learns Eq. 9's gamma * [CE(real, y) + CE(mix, teacher's class)] (:mod:`chimeramix.methods.supermix`).
- policy (``autoaugment``, ``trivialaugment``): torchvision v2; AutoAugment uses the CIFAR-10 policy up to
  64 px and the ImageNet policy above (STL-10).
- erasing (``cutout``, ``random-erasing``): one square hole per image, or Random Erasing.
- loss (``cosine-loss``): the model is trained with
  :class:`~chimeramix.methods.image_space.cosine_loss.CosineLoss`.
"""

from __future__ import annotations

from chimeramix.components.entry import Component, RunPicture

WAVELET_PICTURES = tuple(
    RunPicture(name, "The scattering wavelets", f"The Morlet wavelets {moment} (real parts in space; one row per "
               "scale j; grey 0, white positive, black negative).")
    for name, moment in (("wavelets-init", "at initialisation"), ("wavelets", "after training")))
"""The scattering front end's wavelets at the start and the end of training."""
SCATTERING_HOOKS = "chimeramix.methods.scattering.hooks:HOOKS"
CHIMERAMIX_HOOKS = "chimeramix.methods.chimeramix.hooks:HOOKS"
PIXEL_MIXING_HOOKS = "chimeramix.methods.chimeramix.hooks:PIXEL_HOOKS"


BUILT_IN: dict[str, Component] = {
    "baseline": Component("baseline", "random crop (reflect padding) and horizontal flip only"),
    "cutout": Component("erasing", "one square hole per image (DeVries & Taylor 2017) of side cutout_size",
                        transform="chimeramix.methods.image_space.erasing:Cutout"),
    "random-erasing": Component(
        "erasing", "Random Erasing (Zhong et al. 2020): p 0.5, area 0.02-0.4, aspect 0.3-3.3, noise fill",
        transform="chimeramix.methods.image_space.erasing:RandomErasing",
    ),
    "cosine-loss": Component("loss", "cosine loss to one-hot class embeddings (Barz & Denzler 2020)",
                             hooks="chimeramix.methods.image_space.hooks:COSINE_LOSS_HOOKS"),
    "mixup": Component("label-mixing", "MixUp (Zhang et al. 2018) every batch, lambda ~ Beta(1, 1)",
                       transform="chimeramix.methods.image_space.label_mixing:mixup"),
    "cutmix": Component("label-mixing", "CutMix (Yun et al. 2019) every batch, lambda ~ Beta(1, 1)",
                        transform="chimeramix.methods.image_space.label_mixing:cutmix"),
    "autoaugment": Component("policy", "AutoAugment (CIFAR-10 policy; ImageNet policy above 64 px)",
                             transform="chimeramix.methods.image_space.policies:auto_augment"),
    "trivialaugment": Component("policy", "TrivialAugment (wide)",
                                transform="chimeramix.methods.image_space.policies:trivial_augment"),
    "gridmix": Component("pair-mixing", "same-class pairs mixed in pixel space under grid masks (Table 3)",
                         hooks=PIXEL_MIXING_HOOKS),
    "segmix": Component("pair-mixing", "same-class pairs mixed in pixel space under segment masks (Table 3)",
                        hooks=PIXEL_MIXING_HOOKS),
    "chimeramix-grid": Component("pair-mixing", "ChimeraMix+Grid: compositions by the frozen generator",
                                 "generator", hooks=CHIMERAMIX_HOOKS),
    "chimeramix-seg": Component("pair-mixing", "ChimeraMix+Seg: compositions by the frozen generator", "generator",
                                hooks=CHIMERAMIX_HOOKS),
    "glico": Component("pair-mixing", "GLICO (Azuri & Weinshall 2020): images generated from spherical "
                       "interpolations of same-class latent codes (stage 1: generator train --kind glico)", "glico",
                       hooks="chimeramix.methods.glico.hooks:HOOKS"),
    "scattering": Component("front-end", "Parametric Scattering (Gauthier et al. 2022): learnable Morlet "
                            "scattering (J 2, L 8) under a modified WideResNet (architecture scattering-wrn-8)",
                            pictures=WAVELET_PICTURES, hooks=SCATTERING_HOOKS),
    "scattering-fixed": Component("front-end", "scattering with fixed tight-frame Morlet wavelets (kymatio's) "
                                  "under the same modified WideResNet", pictures=WAVELET_PICTURES,
                                  hooks=SCATTERING_HOOKS),
    "supermix": Component("teacher-mixing", "SuperMix (Dabouei et al. 2021): mixes of K images under masks "
                          "optimised by a teacher trained first on the split (a baseline run)", "teacher",
                          hooks="chimeramix.methods.supermix.hooks:HOOKS",
                          pictures=(RunPicture("supermix", "SuperMix's mixes", "SuperMix: training images and "
                                               "their partners (K rows), their optimised masks (white: weight 1), "
                                               "and the mixes (a mix the teacher did not accept is darkened)"),)),
}
"""The built-in method components; the keys are the command-line names."""
