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
        made = {role: app.state.tokens.create(role, f"test-{role}") for role in ("hasher", "matcher", "curator", "reviewer", "admin")}
        self.tokens = {role: secret for role, (secret, _) in made.items()}
        # How the audit, owners and claims name each token: by id (the name is only a reminder).
        self.actors = {role: f"token:{info.id}:{info.name}" for role, (_, info) in made.items()}

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def session_cookie(self, name: str, role: str) -> str:
        """A signed session cookie as the review UI's sign-in would set it (with its server-side session)."""
        from crossmatch.api.app import session_secret

        sessions = getattr(self.state, "web_sessions", None)  # absent before issue 15 (regression tests run there too)
        session = {"user": {"name": name, "role": role}, "sid": sessions.create(name) if sessions else "", "csrf": "test-csrf"}
        payload = base64.b64encode(json.dumps(session).encode())
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


@pytest.fixture(scope="module", params=BACKENDS)
def service_ctx(request, tmp_path_factory):
    """A Context (no HTTP app) on each backend."""
    from crossmatch.context import open_context

    with database_url(request.param) as url:
        ctx = open_context(make_settings(tmp_path_factory.mktemp("home"), url))
        try:
            yield ctx
        finally:
            ctx.close()


class Receiver:
    """A real webhook receiver on 127.0.0.1 that records deliveries and dedupes by X-Crossmatch-Delivery.

    ``mode``: "ok" answers 204, "fail" answers 500, "slow" sleeps ``delay`` then answers 204.
    """

    def __init__(self, port: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.mode = "ok"
        self.delay = 0.0
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                with outer.lock:
                    outer.requests.append({"headers": dict(self.headers), "body": body, "mode": outer.mode})
                self.send_response(500 if outer.mode == "fail" else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["mode"] != "fail"]

    def unique_deliveries(self) -> dict[str, dict]:
        """Delivery id -> first accepted request, as an idempotent receiver would keep them."""
        out: dict[str, dict] = {}
        for r in self.accepted():
            out.setdefault(r["headers"]["X-Crossmatch-Delivery"], r)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@contextmanager
def app_in_thread(app, timeout_s: float = 60.0) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free loopback port, in a thread (for browser tests):
    yields its base URL and stops it on exit."""
    import threading
    import time

    import uvicorn

    from crossmatch.api.healthcheck import free_port

    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not web.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        web.should_exit = True
        thread.join(timeout=30)
