"""Training: one loop (``loop``) for every trainer (an objective plus its run state: the classifier's here, a
method's first run in the method's folder: ChimeraMix's generator, GLICO's stage 1), training packs (``trainers``,
``stacking``), the fast path (``fast``) and checkpoints."""
