"""Web users for the review UI: argon2 password hashes, roles, disable (never delete: the audit names them)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from crossmatch.audit.service import as_utc
from crossmatch.auth.models import User
from crossmatch.auth.roles import PasswordBusy, Principal, check_role
from crossmatch.errors import Conflict, InvalidInput, NotFound

MIN_PASSWORD = 10
ACTIVE_CACHE_SECONDS = 5.0  # a disabled user's open sessions stop working within this time


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    enabled: bool
    created_at: datetime

    def to_json(self) -> dict:
        return {"id": self.id, "username": self.username, "role": self.role, "enabled": self.enabled, "created_at": as_utc(self.created_at).isoformat()}


def _info(row: User) -> UserInfo:
    return UserInfo(row.id, row.username, row.role, row.enabled, row.created_at)


class UserService:
    def __init__(self, sessions: sessionmaker, max_hashing: int = 2, hashing_wait_s: float = 2.0) -> None:
        self._sessions = sessions
        self._hasher = PasswordHasher()
        # Each argon2 hash or check takes 64 MiB and a core for ~50 ms: a burst of sign-ins must not
        # take the server's memory and CPU from lookups, so at most ``max_hashing`` run at once and the
        # rest wait up to ``hashing_wait_s``, then get PasswordBusy (429 with Retry-After).
        self._hashing = threading.BoundedSemaphore(max(1, max_hashing))
        self._hashing_wait_s = hashing_wait_s
        # Verified against when the user is unknown, so timing does not reveal which usernames exist.
        self._dummy = self._hasher.hash("crossmatch-no-such-user")
        self._active: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def create(self, username: str, password: str, role: str) -> UserInfo:
        check_role(role)
        username = username.strip()
        if not username or len(username) > 200:
            raise InvalidInput("a username must be 1-200 characters")
        if ":" in username:  # ':' marks token and CLI actors (token:7:name), so a user can never be mistaken for one
            raise InvalidInput(f"username {username!r} contains ':'; choose a name without it")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"the password for {username!r} is too short: use at least {MIN_PASSWORD} characters")
        try:
            with self._sessions.begin() as session:
                row = User(username=username, password_hash=self._hash(password), role=role, enabled=True)
                session.add(row)
                session.flush()
                return _info(row)
        except IntegrityError:
            raise Conflict(f"user {username!r} already exists; pick another name or disable the old one") from None

    def verify(self, username: str, password: str) -> Principal | None:
        with self._sessions() as session:
            row = session.scalar(select(User).where(User.username == username))
        if row is None or not row.enabled:
            self._check(self._dummy, password)
            return None
        if not self._check(row.password_hash, password):
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            with self._sessions.begin() as session:
                session.get(User, row.id).password_hash = self._hash(password)
        return Principal(row.username, row.role, "session")

    def _check(self, stored: str, password: str) -> bool:
        with self.hashing_slot():
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

    def _hash(self, password: str) -> str:
        with self.hashing_slot():
            return self._hasher.hash(password)

    @contextmanager
    def hashing_slot(self) -> Iterator[None]:
        """One of the few argon2 slots, or PasswordBusy after a short wait."""
        if not self._hashing.acquire(timeout=self._hashing_wait_s):
            raise PasswordBusy("too many sign-ins are being checked at once; retry in a second", 1.0)
        try:
            yield
        finally:
            self._hashing.release()

    def is_active(self, username: str) -> bool:
        """True if the user exists and is enabled (cached briefly: checked on every session request)."""
        now = time.monotonic()
        with self._lock:
            hit = self._active.get(username)
        if hit is not None and now - hit[0] < ACTIVE_CACHE_SECONDS:
            return hit[1]
        with self._sessions() as session:
            active = bool(session.scalar(select(User.enabled).where(User.username == username)))
        with self._lock:
            self._active[username] = (now, active)
        return active

    def list(self) -> list[UserInfo]:
        with self._sessions() as session:
            return [_info(row) for row in session.scalars(select(User).order_by(User.username))]

    def get(self, username: str) -> UserInfo:
        with self._sessions() as session:
            row = session.scalar(select(User).where(User.username == username))
            if row is None:
                raise NotFound(f"no user named {username!r}; see `crossmatch user list`")
            return _info(row)

    def disable(self, username: str) -> UserInfo:
        with self._sessions.begin() as session:
            row = session.scalar(select(User).where(User.username == username))
            if row is None:
                raise NotFound(f"no user named {username!r}; see `crossmatch user list`")
            row.enabled = False
            info = _info(row)
        with self._lock:
            self._active.pop(username, None)
        return info
