"""Roles and who may use what.

``admin`` may do everything.  The route groups below are the one place that says
which roles a route accepts; routers pass them to :func:`require_role`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crossmatch.errors import CrossmatchError, InvalidInput

ROLES = ("hasher", "matcher", "curator", "reviewer", "analyst", "admin")

# Route groups (admin is always allowed in addition).
HASH = ("hasher", "matcher")  # POST /hash: signals only, no bank access
MATCH = ("matcher",)  # lookups and submissions: match against banks
BANK_READ = ("curator", "reviewer")  # list/show banks and items
BANK_WRITE = ("curator",)  # create/change/delete banks and items, import, policies
OUTLETS_READ = ("analyst", "curator", "reviewer")  # accounts, outlets, candidates (pseudonymised)
HANDLES = ("analyst",)  # raw account handles, when the deployment keeps them
ADMIN = ("admin",)  # tokens, users, webhooks, deliveries, audit


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: Literal["token", "session"]
    token_id: int | None = None


class Unauthenticated(CrossmatchError):
    """No or bad credentials (HTTP 401)."""


class Forbidden(CrossmatchError):
    """Valid credentials, wrong role (HTTP 403)."""


class RateLimited(CrossmatchError):
    """Too many requests for this token (HTTP 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role
