"""Web sessions for the review UI: who is signed in, CSRF tokens, templates.

The session cookie is signed by the app's SessionMiddleware; it carries
``user = {"name", "role"}`` (the same key the API's auth accepts) and a
per-session CSRF token that every POST form must echo back.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from crossmatch.errors import CrossmatchError

WEB_DIR = Path(__file__).parent
SESSION_USER = "user"
SESSION_CSRF = "csrf"


class SignInRequired(CrossmatchError):
    """No signed-in user: the browser is sent to the sign-in page."""


class NotAllowed(CrossmatchError):
    """Signed in, but the role may not use this page."""


class BadCsrf(CrossmatchError):
    """A form came back without this session's CSRF token (stale page or cross-site post)."""


def templates(request: Request) -> Jinja2Templates:
    # One environment per app, made on first use (no module-level state).
    state = request.app.state
    if getattr(state, "web_templates", None) is None:
        state.web_templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    return state.web_templates


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not submitted or not secrets.compare_digest(str(expected), str(submitted)):
        raise BadCsrf("this form has expired or did not come from this site; reload the page and try again")


def current_user(request: Request) -> dict[str, str] | None:
    user = request.session.get(SESSION_USER)
    return user if isinstance(user, dict) and user.get("name") and user.get("role") else None


def need_user(request: Request, *roles: str) -> dict[str, str]:
    """The signed-in user if their role is one of ``roles`` (admin always passes)."""
    user = current_user(request)
    if user is None:
        raise SignInRequired("sign in to continue")
    if roles and user["role"] not in set(roles) | {"admin"}:
        raise NotAllowed(f"{user['name']} has role {user['role']!r}; this page needs one of: {', '.join(sorted(set(roles) | {'admin'}))}")
    return user


def render(request: Request, name: str, status_code: int = 200, **values: Any):
    user = current_user(request)
    flash = request.session.pop("flash", None)
    return templates(request).TemplateResponse(
        request, name, {"user": user, "csrf": csrf_token(request), "flash": flash, **values}, status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
