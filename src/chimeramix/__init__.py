"""chimeramix: image classification on small datasets with ChimeraMix and the paper's baselines."""

__version__ = "0.1.0"
