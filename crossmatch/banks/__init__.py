"""Banks of known items: kinds, labels, thresholds, items and their signals."""
