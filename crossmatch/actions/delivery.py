"""Webhook delivery: signed POSTs, retries with exponential backoff, dead letters.

At-least-once: an attempt first takes a lease on the row (pushing ``due_at``
past the request timeout), so several server processes never send the same
action at the same time, and an attempt cut off by a crash is retried after
the lease.  Receivers dedupe by the ``X-Crossmatch-Delivery`` header.

Each request carries ``X-Crossmatch-Signature: sha256=<hex>``, the HMAC-SHA256
of the exact body bytes with the webhook's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from crossmatch.actions.models import Action, Webhook
from crossmatch.settings import ServiceSettings
from crossmatch.store.models import utcnow

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Crossmatch-Signature"
DELIVERY_HEADER = "X-Crossmatch-Delivery"
EVENT_HEADER = "X-Crossmatch-Event"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time compare of the signature header."""
    return hmac.compare_digest(sign(secret, body), header or "")


def backoff(settings: ServiceSettings, attempts: int) -> float:
    return min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2 ** max(0, attempts - 1))


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def to_json(self) -> dict:
        return {"delivered": self.delivered, "failed": self.failed, "dead": self.dead}


class Deliverer:
    def __init__(self, sessions: sessionmaker, settings: ServiceSettings, client: httpx.Client | None = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self._client = client or httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def deliver_due(self, limit: int = 100, now: float | None = None) -> DeliveryReport:
        """One pass over due pending actions (the CLI's `actions deliver` and the worker loop)."""
        now = time.time() if now is None else now
        report = DeliveryReport()
        with self._sessions() as session:
            due = list(session.scalars(
                select(Action.id).where(Action.status == "pending", Action.due_at <= now).order_by(Action.due_at, Action.id).limit(limit)
            ))
        for action_id in due:
            claimed = self._claim(action_id, now)
            if claimed is None:
                continue  # another process took it
            outcome = self._attempt(*claimed)
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def _claim(self, action_id: int, now: float) -> tuple[Action, Webhook | None] | None:
        lease = now + self.settings.webhook_timeout_s + 5.0
        with self._sessions.begin() as session:
            taken = session.execute(
                update(Action).where(Action.id == action_id, Action.status == "pending", Action.due_at <= now)
                .values(due_at=lease, attempts=Action.attempts + 1)
            ).rowcount
            if taken != 1:
                return None
            action = session.get(Action, action_id)
            return action, session.get(Webhook, action.webhook_id)

    def _attempt(self, action: Action, hook: Webhook | None) -> str:
        if hook is None:
            return self._finish(action, ok=False, error="webhook deleted", final=True)
        body = json.dumps(
            {"event": action.event, "delivery_id": action.delivery_id, "action_id": action.id,
             "created_at": action.created_at.isoformat(), "data": action.payload},
            sort_keys=True, ensure_ascii=False, default=str,
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(hook.secret, body),
            DELIVERY_HEADER: action.delivery_id,
            EVENT_HEADER: action.event,
            "User-Agent": "crossmatch-webhook/1",
        }
        try:
            response = self._client.post(hook.url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                return self._finish(action, ok=True)
            error = f"HTTP {response.status_code} from {hook.url}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__} posting to {hook.url}: {exc}"
        return self._finish(action, ok=False, error=error, final=not hook.enabled)

    def _finish(self, action: Action, ok: bool, error: str | None = None, final: bool = False) -> str:
        with self._sessions.begin() as session:
            row = session.get(Action, action.id)
            if row is None or row.status != "pending":
                return "failed"
            if ok:
                row.status, row.delivered_at, row.last_error = "delivered", utcnow(), None
                return "delivered"
            row.last_error = (error or "")[:2000]
            if final or row.attempts >= self.settings.webhook_max_attempts:
                row.status = "dead"
                log.warning("action %s is a dead letter after %s attempts: %s", row.id, row.attempts, error)
                return "dead"
            row.due_at = time.time() + backoff(self.settings, row.attempts)
            return "failed"
