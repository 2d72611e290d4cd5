"""Training loops (generator, classifier) and the checkpoints they share."""
