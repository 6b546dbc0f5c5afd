"""Web hardening as one ASGI middleware: live sessions, CSRF for cookie writes, security headers.

It sits just inside Starlette's SessionMiddleware (which decodes the signed cookie
into ``scope["session"]``) and does three things for every request:

1. **Live sessions.**  A cookie whose session was revoked (sign-out) or expired
   server-side is emptied, so it authenticates nothing (see ``auth/sessions.py``).
2. **CSRF.**  A write (POST/PUT/PATCH/DELETE) authenticated by the session cookie
   (no ``Authorization`` header) must prove it came from our own pages: the
   ``X-CSRF-Token`` header, or a ``csrf`` field of a url-encoded form, equal to the
   session's token.  A cross-site form (``text/plain``, multipart or url-encoded)
   cannot send the header and does not know the token.  Bearer-token clients are
   not affected: a browser never adds ``Authorization`` on its own.
3. **Headers.**  CSP, frame-ancestors / X-Frame-Options, Referrer-Policy and
   nosniff on every answer.  ``/static/csrf.js`` reads the ``crossmatch_csrf``
   cookie set here and adds the token to the UI's forms and fetch() calls.

Hand-written because Starlette ships no CSRF middleware and the maintained
third-party ones are either double-submit only (no session binding) or cannot
read url-encoded forms without consuming the body for the route.
"""

from __future__ import annotations

import json
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from crossmatch.auth.sessions import SESSION_ID

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_SESSION_KEY = "csrf"  # the same key the review UI's forms use (web/security.py)
CSRF_HEADER = b"x-csrf-token"
CSRF_COOKIE = "crossmatch_csrf"
MAX_FORM_BYTES = 1024 * 1024  # our own forms are a few hundred bytes
# /docs and /redoc load Swagger UI / ReDoc, which need inline scripts; they get no script-restricting CSP.
DOCS_PATHS = ("/docs", "/redoc")
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityMiddleware:
    def __init__(self, app: Any, web_sessions: Any, https_only: bool = False) -> None:
        self.app = app
        self.web_sessions = web_sessions
        self.https_only = https_only

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope.get("session")
        if session is not None and "user" in session:
            user = session.get("user")
            name = user.get("name") if isinstance(user, dict) else None
            if name is None or self.web_sessions.user_of(session.get(SESSION_ID)) != name:
                session.clear()  # revoked, expired, or a cookie from before server-side sessions: sign in again
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope["method"] in UNSAFE and session and "user" in session and b"authorization" not in headers:
            ok, receive = await self._csrf_ok(scope, receive, headers, session)
            if not ok:
                await _refuse(send, "this request came with the session cookie but without the CSRF token; "
                                    "send the X-CSRF-Token header (the crossmatch_csrf cookie's value) or use an API token")
                return
        await self.app(scope, receive, self._with_headers(scope, send, headers))

    async def _csrf_ok(self, scope: dict, receive: Any, headers: dict, session: dict) -> tuple[bool, Any]:
        expected = session.get(CSRF_SESSION_KEY)
        if not expected:
            return False, receive
        given = headers.get(CSRF_HEADER)
        if given is not None:
            return secrets.compare_digest(given.decode("latin-1"), str(expected)), receive
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype != b"application/x-www-form-urlencoded":
            return False, receive
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            return False, receive
        fields = parse_qs(body.decode("latin-1"), max_num_fields=100)
        given_field = (fields.get("csrf") or [""])[0]
        ok = bool(given_field) and secrets.compare_digest(given_field, str(expected))
        return ok, _replay(body, receive)

    def _with_headers(self, scope: dict, send: Any, request_headers: dict) -> Any:
        path = scope.get("path", "")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                present = {k.lower() for k, _ in out}
                extra = list(HEADERS)
                if not path.startswith(DOCS_PATHS):
                    extra.append((b"content-security-policy", CSP.encode()))
                out += [(k, v) for k, v in extra if k not in present]
                token = (scope.get("session") or {}).get(CSRF_SESSION_KEY)
                if token and _cookie(request_headers, CSRF_COOKIE) != token:
                    out.append((b"set-cookie", _csrf_cookie(str(token), self.https_only)))
                message = {**message, "headers": out}
            await send(message)

        return send_with_headers


def _cookie(headers: dict, name: str) -> str | None:
    raw = headers.get(b"cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header: treat as absent
        return None
    return jar[name].value if name in jar else None


def _csrf_cookie(token: str, secure: bool) -> bytes:
    # Readable by our own script (not HttpOnly), never sent cross-site (SameSite=Strict).
    return f"{CSRF_COOKIE}={token}; Path=/; SameSite=Strict{'; Secure' if secure else ''}".encode("latin-1")


async def _read_body(receive: Any, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """The body read for the CSRF check, handed to the route as if unread; then the real channel (disconnects)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Any, detail: str) -> None:
    body = json.dumps({"error": "CsrfFailed", "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += HEADERS + [(b"content-security-policy", CSP.encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
