"""Webhook delivery: signed POSTs, retries with exponential backoff, dead letters.

At-least-once: an attempt first takes a lease on the row (pushing ``due_at``
past the request timeout), so several server processes never send the same
action at the same time, and an attempt cut off by a crash is retried after
the lease.  Receivers dedupe by the ``X-Crossmatch-Delivery`` header.

Each request carries ``X-Crossmatch-Signature: sha256=<hex>``, the HMAC-SHA256
of the exact body bytes with the webhook's secret.

A pass sends to every webhook side by side, at most ``webhook_concurrency``
requests in flight per webhook, and each request has a total deadline of
``webhook_timeout_s`` (enforced by cancelling it, so a receiver that drips one
byte at a time cannot hold a pass open): one slow receiver delays only its own
deliveries.  See docs/webhooks.md for an exactly-once receiver.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from crossmatch.actions.egress import check_destination, redact_url
from crossmatch.actions.models import Action, Webhook
from crossmatch.errors import InvalidInput
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
    MAX_IN_FLIGHT = 32  # across all webhooks: bounds sockets and memory of one pass

    def __init__(self, sessions: sessionmaker, settings: ServiceSettings) -> None:
        self._sessions = sessions
        self.settings = settings

    def close(self) -> None:
        pass  # each pass opens and closes its own HTTP client (its event loop's)

    def deliver_due(self, limit: int = 100, now: float | None = None) -> DeliveryReport:
        """One pass over due pending actions (the CLI's `actions deliver` and the worker loop)."""
        now = time.time() if now is None else now
        report = DeliveryReport()
        with self._sessions() as session:
            due = list(session.execute(
                select(Action.id, Action.webhook_id).where(Action.status == "pending", Action.due_at <= now)
                .order_by(Action.due_at, Action.id).limit(limit)
            ))
        if not due:
            return report
        by_hook: dict[int | None, list[int]] = defaultdict(list)
        for action_id, webhook_id in due:
            by_hook[webhook_id].append(action_id)
        for outcome in asyncio.run(self._deliver_all(by_hook, now)):
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    async def _deliver_all(self, by_hook: dict[int | None, list[int]], now: float) -> list[str]:
        total = self.settings.webhook_timeout_s
        everyone = asyncio.Semaphore(self.MAX_IN_FLIGHT)
        async with httpx.AsyncClient(timeout=total, follow_redirects=False) as client:

            async def one_webhook(action_ids: list[int]) -> list[str]:
                mine = asyncio.Semaphore(self.settings.webhook_concurrency)

                async def one(action_id: int) -> str | None:
                    async with mine, everyone:
                        # Claimed only when a slot is free, so a queue behind a slow receiver keeps no leases.
                        claimed = await asyncio.to_thread(self._claim, action_id, max(now, time.time()))
                        if claimed is None:
                            return None  # another process took it
                        return await self._attempt(client, *claimed)

                return [o for o in await asyncio.gather(*(one(a) for a in action_ids)) if o is not None]

            results = await asyncio.gather(*(one_webhook(ids) for ids in by_hook.values()))
        return [outcome for outcomes in results for outcome in outcomes]

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

    async def _attempt(self, client: httpx.AsyncClient, action: Action, hook: Webhook | None) -> str:
        if hook is None:
            return await asyncio.to_thread(self._finish, action, False, "webhook deleted", True)
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
        shown, total = redact_url(hook.url), self.settings.webhook_timeout_s
        try:
            # Checked after DNS on every attempt: a name may be re-pointed at an internal address later.
            await asyncio.to_thread(check_destination, hook.url, self.settings.webhook_egress)
            response = await asyncio.wait_for(client.post(hook.url, content=body, headers=headers), timeout=total)
            if 200 <= response.status_code < 300:
                return await asyncio.to_thread(self._finish, action, True)
            error = f"HTTP {response.status_code} from {shown}"
        except asyncio.TimeoutError:
            error = f"no complete answer from {shown} within the {total:g} s deadline (service.webhook_timeout_s)"
        except InvalidInput as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__} posting to {shown}: {str(exc).replace(hook.url, shown)}"
        return await asyncio.to_thread(self._finish, action, False, error, not hook.enabled)

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
