"""The classifier's trainer (paper section 3.1 "Classification"): a network trained under the protocol's recipe
on the batches of one method (:mod:`~chimeramix.classifier.trainer`) with its loss and SGD step
(:mod:`~chimeramix.classifier.objective`). It sits above the methods: it asks a method's components, through
their hooks, for their pair mixing, loss, batches, schedule and pictures, and trains through the one loop of
:mod:`chimeramix.train`."""
