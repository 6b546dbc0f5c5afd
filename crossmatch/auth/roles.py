"""Roles and who may use what.

``admin`` may do everything.  The route groups below are the one place that says
which roles a route accepts; routers pass them to :func:`require_role`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crossmatch.errors import CrossmatchError, InvalidInput

ROLES = ("hasher", "matcher", "curator", "reviewer", "senior", "analyst", "admin")  # senior: decides escalations, reopens

# Route groups (admin is always allowed in addition).
HASH = ("hasher", "matcher")  # POST /hash: signals only, no bank access
MATCH = ("matcher",)  # lookups and submissions: match against banks
BANK_READ = ("curator", "reviewer", "senior")  # list/show banks and items
BANK_WRITE = ("curator",)  # create/change/delete banks and items, import, policies
OUTLETS_READ = ("analyst", "curator", "reviewer", "senior")  # accounts, outlets, candidates (pseudonymised)
HANDLES = ("analyst",)  # raw account handles, when the deployment keeps them
ADMIN = ("admin",)  # tokens, users, webhooks, deliveries, audit


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: Literal["token", "session"]
    token_id: int | None = None

    @property
    def actor(self) -> str:
        """Who this is, as owners, claims, decisions and the audit record it: never a bare token name.

        A token is keyed by its id (``token:7:platform-a``; the name is only a reminder for people),
        so two tokens of the same name, or a token named like a web user, are never one identity.
        A web user is keyed by their username: unique, never renamed or deleted, and a username may
        not contain ':', so it can never equal a token's key.
        """
        if self.via == "token":
            return f"token:{self.token_id}:{self.name}"[:200]
        return self.name


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


class PasswordBusy(RateLimited):
    """Too many password checks in flight (each argon2 check takes 64 MiB and a core): retry shortly (HTTP 429)."""
