"""A real app for the web-security regression tests (issue 15): sign-in through the form, tunable limits."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fastapi.testclient import TestClient

from crossmatch.api.app import create_app
from crossmatch.settings import ServiceSettings, Settings
from test_api_support import database_url

PASSWORD = "correct-horse-battery"


@contextmanager
def web_app(home: Path, backend: str, **security: Any) -> Iterator[Any]:
    with database_url(backend) as url:
        service = ServiceSettings(background_workers=False, rate_per_second=0, secret_key="s" * 40)
        tuned = {"security": security} if security else {}  # (no such section before issue 15)
        app = create_app(Settings(home=home, database_url=url, deep_scan=False, workers=1, service=service, **tuned))
        with TestClient(app):
            yield app
        app.state.ctx.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD):
    token = csrf_of(client.get("/signin").text)
    return client.post("/signin", data={"username": user, "password": password, "csrf": token, "next": "/queue"},
                       follow_redirects=False)
