"""Scale-out on engines users already run: Ray Data backfills, the JetStream upload stream (docs/scale.md)."""
