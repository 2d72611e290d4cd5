"""Networks: the ChimeraMix generator and discriminator, and the classifiers."""
