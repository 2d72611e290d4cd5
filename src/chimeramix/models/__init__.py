"""Networks: the WideResNet classifiers and the registry of classifier architectures (:mod:`.classifiers`). The
networks of a method are in its folder: ChimeraMix's generator and discriminator in
:mod:`chimeramix.methods.chimeramix`, GLICO's in :mod:`chimeramix.methods.glico`, the scattering front end and its
top model in :mod:`chimeramix.methods.scattering`."""
