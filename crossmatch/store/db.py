"""Database engine, sessions and migrations.

SQLite in the data directory is the embedded default; any SQLAlchemy URL
(PostgreSQL in production) can be given instead.  The schema is owned by
Alembic migrations, run on open, so every process sees the same tables.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from crossmatch.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


def make_engine(settings: Settings) -> Engine:
    url = settings.db_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets a server read while the CLI writes; foreign keys make cascades real.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every area (idempotent).

    Each domain area (core, review, actions, exchange) has its own migration
    branch rooted at ``0001_core``; ``heads`` upgrades them all.  When the
    database is already at every head (nearly every command), Alembic is not
    even imported: it costs a third of a second of start-up.
    """
    if _applied(engine) == script_heads():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "heads")


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def script_heads() -> set[str]:
    """The head revisions of the migration scripts, read from their source (tested against Alembic's own answer)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - parents


def _applied(engine: Engine) -> set[str] | None:
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # no table yet (a new database), or unreadable: let Alembic decide
        return None


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker, session: Session | None = None) -> Iterator[Session]:
    """The caller's transaction when one is given (the caller commits), else a new one committed on exit.

    Services take ``session=`` so that a workflow (a decision, a scanned submission)
    can run several of them in one transaction that commits all or nothing.
    """
    if session is not None:
        yield session
        return
    with sessions.begin() as own:
        yield own


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed (never if it rolls back)."""
    event.listen(session, "after_commit", lambda _session: callback(), once=True)


# Readers tail ``signal_changes`` with ``seq > last_seen``, which is only safe if seq
# order is commit order.  PostgreSQL hands out sequence values at INSERT time, so a
# transaction holding an early seq could commit after a later one that a reader has
# already passed, and be skipped for good.  Every transaction that writes bank items or
# signals therefore takes this one transaction-scoped advisory lock first, before it
# reads anything or takes a seq, and holds it until it commits.  We chose this over a
# commit watermark (readers stopping below the oldest open writer, e.g. via
# pg_snapshot_xmin and an xid column) because it keeps every reader a plain
# ``seq > n`` and bank writes (imports, curation, syncs) are rare next to lookups,
# which take no lock.  SQLite already has one writer at a time; BEGIN IMMEDIATE takes
# that write lock before the transaction's reads, so a read-then-write upsert from two
# processes cannot interleave either (e.g. two imports of the same new ids).
BANK_WRITE_LOCK = 0x63726F73  # "cros": the one advisory lock id for bank writes


def serialise_bank_writes(session: Session) -> None:
    """Wait for, and hold to commit, the store-wide bank write lock (see BANK_WRITE_LOCK)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BANK_WRITE_LOCK})
    elif conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        # Not yet in a write transaction (pysqlite begins one lazily at the first write).
        conn.exec_driver_sql("BEGIN IMMEDIATE")
