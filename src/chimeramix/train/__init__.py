"""Training: one loop (``loop``) for every trainer (``classifier``, ``generator``: an objective plus its run
state), training packs (``trainers``, ``stacking``), the fast path (``fast``) and checkpoints."""
