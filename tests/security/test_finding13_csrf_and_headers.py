"""Issue 15 finding 13 (CSRF, Content-Type, security headers; the GET-claim part is the review UI's).

Before the fix the JSON and HMA routes accepted the session cookie without any CSRF
token, HMA routes parsed a ``text/plain`` body as JSON (so a cross-site form could
create a bank), and no answer carried CSP or X-Frame-Options.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from test_api_support import BACKENDS
from web_support import PASSWORD, csrf_of, sign_in, web_app


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    with web_app(tmp_path, request.param) as running:
        running.state.users.create("cura", PASSWORD, "curator")
        running.state.users.create("rita", PASSWORD, "reviewer")
        yield running


def test_cookie_authenticated_writes_need_the_csrf_token(app) -> None:
    with TestClient(app) as browser:
        assert sign_in(browser, "cura").status_code == 303
        token = browser.cookies.get("crossmatch_csrf")
        assert token  # what /static/csrf.js reads
        # A JSON write riding on the cookie alone (what a cross-site fetch or form would send):
        forged = browser.post("/api/v1/banks", json={"name": "forged"})
        assert forged.status_code == 403 and forged.json()["error"] == "CsrfFailed"
        wrong = browser.post("/api/v1/banks", json={"name": "forged"}, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        # A cross-site HTML form to an HMA route: text/plain that parses as JSON.
        form = browser.post("/c/banks", content=b'{"name": "FORGED_HMA", "x": "="}', headers={"Content-Type": "text/plain"})
        assert form.status_code == 403
        assert [b.name for b in app.state.ctx.banks.list_banks()] == []
        # Our own pages (csrf.js) send the token: the same writes go through.
        ok = browser.post("/api/v1/banks", json={"name": "made-here"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
        hma = browser.post("/c/banks", json={"name": "MADE_HERE"}, headers={"X-CSRF-Token": token})
        assert hma.status_code == 201
        # A url-encoded form with the right field passes the middleware (the route checks it again).
        page = browser.get("/queue")
        assert browser.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303


def test_hma_routes_refuse_bodies_not_sent_as_json(app) -> None:
    curator = {"Authorization": f"Bearer {app.state.tokens.create('curator')[0]}"}
    with TestClient(app) as client:
        plain = client.post("/c/banks", content=b'{"name": "PLAIN_TEXT"}', headers={**curator, "Content-Type": "text/plain"})
        assert plain.status_code == 415 and "application/json" in plain.json()["message"]
        assert client.post("/c/banks", json={"name": "REAL_JSON"}, headers=curator).status_code == 201
        assert [b.name for b in app.state.ctx.banks.list_banks()] == ["REAL_JSON"]
        matcher = {"Authorization": f"Bearer {app.state.tokens.create('matcher')[0]}"}
        compared = client.post("/m/compare", content=b'{"pdq": []}', headers={**matcher, "Content-Type": "text/plain"})
        assert compared.status_code == 415


def test_every_answer_carries_the_security_headers(app) -> None:
    with TestClient(app) as client:
        for path in ("/signin", "/api/v1/cases", "/healthz", "/static/app.js"):
            answer = client.get(path)
            csp = answer.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp, path
            assert answer.headers["x-frame-options"] == "DENY", path
            assert answer.headers["referrer-policy"] == "no-referrer", path
            assert answer.headers["x-content-type-options"] == "nosniff", path
        page = client.get("/signin").text
        assert '<script src="/static/csrf.js"' in page
        assert client.get("/static/csrf.js").status_code == 200
