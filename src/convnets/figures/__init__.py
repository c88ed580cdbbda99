"""Figures, one module per family; every one is drawn with Agg, saved atomically, then closed."""
