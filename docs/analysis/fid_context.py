"""Context for docs/analysis/README.md: FID and KID of real images in the feature space of a classifier run
(argv[1]), against the same cached CIFAR-10 reference as `chimeramix analyze fid`: 2,000 random training images,
and the k = 10 split of seed 0 tiled to 2,000 images. Usage: python docs/analysis/fid_context.py RUN_DIR"""
import sys

import numpy as np
import torch

from chimeramix.analysis.features import classifier_extractor
from chimeramix.analysis.fid import Distances
from chimeramix.analysis.reference import reference_features
from chimeramix.data.splits import split

extractor = classifier_extractor(sys.argv[1], torch.device("cpu"))
reference = reference_features("cifar10", extractor)
distances = Distances(reference.features, seed=0)
random_rows = np.random.default_rng(0).choice(len(reference.labels), 2000, replace=False)
chosen = split(reference.labels, 10, 0).indices
for name, rows in (("2,000 random training images", random_rows),
                   ("the 100 split images, each 20 times", np.tile(chosen, 20))):
    scores = distances(reference.features[rows])
    kid = f"{1000 * scores['kid_mean']:.2f} ± {1000 * scores['kid_std']:.2f}"
    print(f"{name}: FID {scores['fid']:.2f}, KID x 1000 {kid}")
