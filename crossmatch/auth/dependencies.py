"""FastAPI dependency: who is calling, and may they use this route.

Accepts ``Authorization: Bearer <token>`` (API clients) and a signed-in web
session (``request.session["user"]``, set by the review UI's sign-in), so the
UI's fetch() calls reach the same JSON routes.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crossmatch.auth.roles import ROLES, Forbidden, Principal, RateLimited, Unauthenticated

SESSION_KEY = "user"
# Declared so OpenAPI shows the bearer scheme; the header is checked below with clearer errors.
_bearer = HTTPBearer(auto_error=False, description="An API token from `crossmatch token create --role ROLE`")


def _from_request(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'; create a token with `crossmatch token create --role ROLE`")
        principal = request.app.state.tokens.authenticate(token.strip())
        if principal is None:
            raise Unauthenticated("this API token is unknown or revoked; ask an admin for a new one (`crossmatch token create`)")
        return principal
    user = request.session.get(SESSION_KEY) if "session" in request.scope else None
    if isinstance(user, dict) and user.get("name") and user.get("role") in ROLES:
        if not request.app.state.users.is_active(str(user["name"])):
            request.session.clear()  # the whole session: its user, server-side id and CSRF token
            raise Unauthenticated(f"the account {user['name']!r} is disabled or gone; ask an admin, then sign in again")
        return Principal(str(user["name"]), str(user["role"]), "session")
    raise Unauthenticated("sign in, or send 'Authorization: Bearer <token>' (create one with `crossmatch token create --role ROLE`)")


def require_role(*roles: str) -> Callable[[Request], Principal]:
    """A dependency that returns the caller if their role is one of ``roles`` (admin always passes)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = set(roles) | {"admin"}

    # async on purpose: FastAPI would run a sync dependency in a worker thread, one extra hop per request;
    # the token and user lookups are cached, so the event loop rarely waits on the database here.
    async def dependency(request: Request, _: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        principal = _from_request(request)
        if principal.role not in allowed:
            raise Forbidden(
                f"{principal.name!r} has role {principal.role!r}; this route needs one of: {', '.join(sorted(allowed))}"
            )
        if principal.via == "token":
            wait = request.app.state.rate_limiter.take(f"token:{principal.token_id}")
            if wait > 0:
                raise RateLimited(f"too many requests for token {principal.name!r}; retry after {wait:.2f} s", wait)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles) or 'admin'}"
    return dependency
