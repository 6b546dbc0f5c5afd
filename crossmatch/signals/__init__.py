"""Signal types: one module per type, each a plain instance behind a ``create(settings)`` factory."""
