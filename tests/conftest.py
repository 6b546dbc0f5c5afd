"""Shared fixtures: settings and an open context on SQLite, and on PostgreSQL when configured.

PostgreSQL tests run when ``CROSSMATCH_TEST_POSTGRES_URL`` names a server
(``.ci/run`` sets it); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from crossmatch.context import Context, open_context
from crossmatch.settings import Settings

PG_ENV = "CROSSMATCH_TEST_POSTGRES_URL"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVALDATA = Path(os.environ.get("CROSSMATCH_EVALDATA", SHARED / "evaldata"))


def _pg_schema_url(base: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    schema = f"cm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> Iterator[str | None]:
    """Parametrises a test over both store backends."""
    if request.param == "sqlite":
        yield None
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://user@host:port/db (.ci/run sets it)")
    yield from _pg_schema_url(base)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings.load(home=tmp_path / "home", database_url=database_url, workers=1)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """SQLite only, for tests whose subject is not the store."""
    return Settings.load(home=tmp_path / "home", workers=1)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    with open_context(settings) as context:
        yield context


@pytest.fixture
def evaldata() -> Path:
    if not EVALDATA.exists():
        pytest.skip(f"evaluation data not found at {EVALDATA}; set CROSSMATCH_EVALDATA")
    return EVALDATA
