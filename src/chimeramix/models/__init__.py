"""Networks: the WideResNet classifiers and the registry of classifier architectures (:mod:`.classifiers`). The
networks of a method are in its folder under :mod:`chimeramix.methods` (a generator and its discriminator, a front
end and its top model), which registers them with the core through its hooks."""
