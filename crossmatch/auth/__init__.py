"""Authentication (API tokens, web sessions) and role checks.

Names are loaded lazily so the CLI can import the package without the
server extras (FastAPI, argon2) installed.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "require_role": "crossmatch.auth.dependencies",
    "RateLimiter": "crossmatch.auth.ratelimit",
    "ROLES": "crossmatch.auth.roles",
    "Principal": "crossmatch.auth.roles",
    "Forbidden": "crossmatch.auth.roles",
    "RateLimited": "crossmatch.auth.roles",
    "Unauthenticated": "crossmatch.auth.roles",
    "TokenService": "crossmatch.auth.tokens",
    "UserService": "crossmatch.auth.users",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'crossmatch.auth' has no attribute {name!r}")
