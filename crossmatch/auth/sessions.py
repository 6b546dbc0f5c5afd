"""Server-side web sessions: the signed cookie names a session row, and sign-out revokes that row.

A signed cookie alone stays valid until it expires, even after sign-out (a copied
cookie keeps working).  Here the cookie carries a random session id; the row, not
the cookie, says whether the session is alive.  Lookups are cached briefly per
process; a revocation is seen at once by the process that made it and within
``CACHE_SECONDS`` by the others.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from crossmatch.auth.models import WebSession
from crossmatch.store.models import utcnow

CACHE_SECONDS = 5.0
SESSION_ID = "sid"  # the key in the signed cookie


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class WebSessions:
    def __init__(self, sessions: sessionmaker, max_age_s: int) -> None:
        self._sessions = sessions
        self.max_age_s = max_age_s
        self._cache: dict[str, tuple[float, str | None]] = {}  # sid hash -> (checked at, username or None)
        self._lock = threading.Lock()

    def create(self, username: str, client: str = "") -> str:
        """A new session for ``username``; returns the secret id the cookie carries."""
        sid = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            session.add(WebSession(sid_hash=_hash(sid), username=username, client=client[:64], created_at=utcnow(),
                                   expires_at=utcnow() + timedelta(seconds=self.max_age_s)))
        return sid

    def user_of(self, sid: str | None) -> str | None:
        """The username of a live (not revoked, not expired) session, else None."""
        if not sid or not isinstance(sid, str):
            return None
        digest, now = _hash(sid), time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self._sessions() as session:
            row = session.scalar(select(WebSession).where(WebSession.sid_hash == digest))
        user = None
        if row is not None and row.revoked_at is None and _aware(row.expires_at) > utcnow():
            user = row.username
        with self._lock:
            if len(self._cache) > 10_000:  # bound memory against floods of forged ids
                self._cache.clear()
            self._cache[digest] = (now, user)
        return user

    def revoke(self, sid: str | None) -> None:
        if not sid or not isinstance(sid, str):
            return
        digest = _hash(sid)
        with self._sessions.begin() as session:
            session.execute(update(WebSession).where(WebSession.sid_hash == digest, WebSession.revoked_at.is_(None))
                            .values(revoked_at=utcnow()))
        with self._lock:
            self._cache.pop(digest, None)

    def revoke_user(self, username: str) -> int:
        """End every session of ``username`` (an admin disabling the account, or "sign out everywhere")."""
        with self._sessions.begin() as session:
            count = session.execute(update(WebSession).where(WebSession.username == username, WebSession.revoked_at.is_(None))
                                    .values(revoked_at=utcnow())).rowcount
        with self._lock:
            self._cache.clear()
        return count
