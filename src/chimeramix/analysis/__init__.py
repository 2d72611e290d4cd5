"""The paper's analysis of generated images (Sec. 4.5, Suppl. A): FID and KID against the full training set
(Fig. 4) and an MDE embedding of real, subsampled and generated images (Fig. 5).

A layer above the rest: it uses the data, the models and the frozen generators of ``train``; only the command
line (``chimeramix analyze``) imports it. Modules: :mod:`~chimeramix.analysis.inception` (the TF FID Inception
from a user's file), :mod:`~chimeramix.analysis.features` (feature extractors with identities),
:mod:`~chimeramix.analysis.reference` (cached features of the full training set),
:mod:`~chimeramix.analysis.generated` (images of a generator run), :mod:`~chimeramix.analysis.fid` and
:mod:`~chimeramix.analysis.embedding`.
"""
