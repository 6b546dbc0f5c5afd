"""Per-signal-type indices: brute force (the definition of right), fast ones, and the manager."""
