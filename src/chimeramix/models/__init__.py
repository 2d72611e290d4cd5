"""Networks: the WideResNet classifiers and their registry, the scattering front end, GLICO's networks
(ChimeraMix's generator and discriminator are in :mod:`chimeramix.methods.chimeramix`)."""
