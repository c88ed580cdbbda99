"""Training: the loop (fit, train_step), DistributedDataParallel, and the recipe from params."""
