"""Shared fixtures for the service tests (imported by tests/test_api_*.py and friends).

Each backend (SQLite always, PostgreSQL when CROSSMATCH_TEST_POSTGRES_URL is
set) gets its own database: a temp SQLite file, or a fresh PostgreSQL schema
dropped afterwards.  One app per test module keeps the suite fast; tests use
unique names so they do not depend on each other.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from itsdangerous import TimestampSigner

from crossmatch.settings import ServiceSettings, Settings

PG_URL = os.environ.get("CROSSMATCH_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def with_search_path(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


@contextmanager
def database_url(backend: str) -> Iterator[str | None]:
    """None for SQLite (the data directory's file), else a URL pinned to a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield None
        return
    from sqlalchemy import create_engine, text

    schema = "cmtest_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_settings(home: Path, db_url: str | None, **service) -> Settings:
    service.setdefault("background_workers", False)
    service.setdefault("rate_per_second", 0)  # limits off unless a test is about them
    return Settings(home=home, database_url=db_url, deep_scan=False, workers=1, service=ServiceSettings(**service))


class Api:
    """A running app with a TestClient and one token per role."""

    def __init__(self, app, client) -> None:
        self.app = app
        self.client = client
        self.state = app.state
        self.tokens = {role: app.state.tokens.create(role, f"test-{role}")[0] for role in
                       ("hasher", "matcher", "curator", "reviewer", "admin")}

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def session_cookie(self, name: str, role: str) -> str:
        """A signed session cookie as the review UI's sign-in would set it."""
        from crossmatch.api.app import session_secret

        payload = base64.b64encode(json.dumps({"user": {"name": name, "role": role}}).encode())
        return TimestampSigner(session_secret(self.state.settings)).sign(payload).decode()


@contextmanager
def running_api(home: Path, backend: str, **service) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from crossmatch.api.app import create_app

    with database_url(backend) as url:
        app = create_app(make_settings(home, url, **service))
        with TestClient(app) as client:
            yield Api(app, client)


@pytest.fixture(scope="module", params=BACKENDS)
def api(request, tmp_path_factory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("home"), request.param) as running:
        yield running


def unique(prefix: str = "b") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
