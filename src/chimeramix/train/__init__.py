"""Training: one loop (``loop``) for every trainer (an objective plus its run state: the classifier's here, a
method's own first run in the method's folder under ``methods/``), training packs (``trainers``, ``stacking``),
the fast path (``fast``) and checkpoints."""
