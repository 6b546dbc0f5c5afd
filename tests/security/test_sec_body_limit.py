"""Issue 15 finding 4: every route's body is capped before parsing and before auth, chunked too."""

from __future__ import annotations

from test_api_support import running_api

import pytest


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    # Small caps so the test sends little: 64 KiB for JSON routes, 256 KiB uploads.
    with running_api(tmp_path_factory.mktemp("home"), "sqlite", max_upload_bytes=256 * 1024) as running:
        yield running


def _chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


def test_declared_oversize_body_is_refused_unauthenticated(small):
    limit = small.state.settings.limits.max_body_bytes
    r = small.client.post("/api/v1/banks", content=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"


def test_chunked_oversize_body_is_cut_off_before_auth(small):
    limit = small.state.settings.limits.max_body_bytes
    r = small.client.post("/api/v1/banks", content=_chunks(limit * 4), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    # Under the cap the request goes on to FastAPI (which parses, then refuses it: 401 or 422).
    r = small.client.post("/api/v1/banks", content=_chunks(100), headers={"Content-Type": "application/json"})
    assert r.status_code in (401, 422)


def test_upload_routes_get_the_upload_cap(small):
    text = "y" * (300 * 1024)
    r = small.client.post("/api/v1/lookup", content=_chunks(2 * 1024 * 1024), headers={"Content-Type": "application/json", **small.h("matcher")})
    assert r.status_code == 413
    # Over the JSON-route cap but under the upload cap: the lookup runs.
    r = small.client.post("/api/v1/lookup", json={"text": "a short benign sentence " * 4000}, headers=small.h("matcher"))
    assert r.status_code == 200, r.text
    r = small.client.post("/api/v1/hash", files={"file": ("big.txt", text.encode(), "text/plain")}, headers=small.h("hasher"))
    assert r.status_code in (413, 422), r.text  # over max_upload_bytes: refused either by the cap or by the route
    # The server keeps serving.
    assert small.client.get("/healthz").status_code == 200
