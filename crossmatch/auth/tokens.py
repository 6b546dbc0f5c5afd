"""API tokens: created once, shown once, stored only as a SHA-256 hash.

Why SHA-256 and not argon2: a token is 256 random bits, so guessing is
hopeless whatever the hash speed; a fast, unsalted hash lets each request find
its token with one indexed lookup.  Passwords (low entropy) use argon2 instead.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from crossmatch.audit.service import as_utc
from crossmatch.auth.models import ApiToken
from crossmatch.auth.roles import Principal, check_role
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.store.models import utcnow

TOKEN_PREFIX = "cm_"
# Revocations reach every process within this many seconds (lookups are cached that long).
CACHE_SECONDS = 5.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    revoked: bool

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created_by": self.created_by,
            "created_at": as_utc(self.created_at).isoformat(),
            "revoked": self.revoked,
        }


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.role, row.prefix, row.created_by, row.created_at, row.revoked_at is not None)


class TokenService:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, name: str | None = None, created_by: str = "") -> tuple[str, TokenInfo]:
        """Returns (the secret token, shown only now; its stored description)."""
        check_role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        # Names are unique (people tell tokens apart by them); the default carries the token's own prefix.
        name = (name or f"{role}-{token[:10]}").strip()
        if not name or len(name) > 200:
            raise InvalidInput("a token name must be 1-200 characters")
        try:
            with self._sessions.begin() as session:
                if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
                    raise Conflict(f"a token named {name!r} already exists; pick another name (see `crossmatch token list`)")
                row = ApiToken(name=name, role=role, token_hash=hash_token(token), prefix=token[:10], created_by=created_by)
                session.add(row)
                session.flush()
                return token, _info(row)
        except IntegrityError:  # a concurrent create of the same name won
            raise Conflict(f"a token named {name!r} already exists; pick another name (see `crossmatch token list`)") from None

    def list(self) -> list[TokenInfo]:
        with self._sessions() as session:
            return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]

    def revoke(self, token_id: int) -> TokenInfo:
        with self._sessions.begin() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}; see `crossmatch token list`")
            if row.revoked_at is None:
                session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))
                row.revoked_at = utcnow()
        with self._lock:
            self._cache.clear()
        return _info(row)

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self._sessions() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        principal = None
        if row is not None and row.revoked_at is None:
            principal = Principal(row.name, row.role, "token", row.id)
        with self._lock:
            if len(self._cache) > 10_000:  # bound memory against floods of random tokens
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal
