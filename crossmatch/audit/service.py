"""AuditLog: record and query; deliberately no update or delete method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from crossmatch.audit.models import AuditEntry
from crossmatch.errors import InvalidInput
from crossmatch.store.db import transaction
from crossmatch.store.models import utcnow

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class AuditLog:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def record(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None,
               session: Session | None = None) -> int:
        """Append one entry; with ``session`` it commits (or not) with the caller's transaction."""
        if not actor or not action:
            raise InvalidInput("an audit record needs an actor and an action")
        with transaction(self._sessions, session) as tx:
            return tx.execute(
                insert(AuditEntry)
                .values(at=utcnow(), actor=actor[:200], action=action[:100], target=target or "", detail=detail or {})
                .returning(AuditEntry.id)
            ).scalar_one()

    def query(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Newest first.  ``action`` ending in '.' matches a prefix (e.g. 'bank.')."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if action:
            query = query.where(AuditEntry.action.startswith(action) if action.endswith(".") else AuditEntry.action == action)
        if since is not None:
            query = query.where(AuditEntry.at >= as_utc(since))
        with self._sessions() as session:
            return [
                AuditRecord(row.id, as_utc(row.at), row.actor, row.action, row.target, row.detail or {})
                for row in session.scalars(query)
            ]
