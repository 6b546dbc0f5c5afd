"""Migrations: the fast start-up check agrees with Alembic, and a database at every head is left alone."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from crossmatch.store.db import _applied, alembic_config, make_engine, migrate, script_heads


def test_heads_read_from_the_scripts_equal_alembics(sqlite_settings):
    engine = make_engine(sqlite_settings)
    assert script_heads() == set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def test_a_new_database_is_migrated_and_then_recognised_as_current(settings):
    engine = make_engine(settings)
    try:
        assert not _applied(engine)  # a new database: no alembic_version yet
        migrate(engine)
        assert _applied(engine) == script_heads()
        migrate(engine)  # at every head: nothing to do, and nothing fails
        assert _applied(engine) == script_heads()
    finally:
        engine.dispose()
