"""Alembic environment: the engine is handed in by crossmatch.store.db.migrate."""

from alembic import context

from crossmatch.store.db import Base
from crossmatch.store import all_models  # noqa: F401  (registers every area's tables on Base.metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
