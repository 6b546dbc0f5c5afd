"""ActionService: turns scans and decisions into actions, and manages webhook sinks.

Effects are data: ``on_scan`` and ``on_decision`` only insert action rows (one
per subscribed webhook); :mod:`crossmatch.actions.delivery` sends them.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from typing import Any, Iterable
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crossmatch.actions.egress import check_destination
from crossmatch.actions.models import Action, Webhook
from crossmatch.actions.policy import policy_from_options
from crossmatch.audit.service import as_utc
from crossmatch.banks.service import BankService
from crossmatch.engine import Match, ScanResult
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.flood import PROBATION
from crossmatch.settings import Settings
from crossmatch.store.db import on_commit, transaction

EVENTS = ("match.auto", "match.review", "decision", "submission.scanned", "signal.quarantined",
          "account.flagged", "outlet.detected", "outlet.grew", "candidate.created")  # the last four: outlets
DEFAULT_EVENTS = ["match.auto", "decision"]
STATUSES = ("pending", "delivered", "dead")


def check_events(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    bad = [e for e in events if e not in EVENTS]
    if bad or not events:
        raise InvalidInput(f"unknown or no webhook events {bad}; choose from {', '.join(EVENTS)}")
    return events


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"webhook url {url!r} must be an absolute http(s) URL")
    return url


def webhook_json(row: Webhook) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "url": row.url, "events": row.events, "enabled": row.enabled,
            "created_at": as_utc(row.created_at).isoformat()}


def action_json(row: Action) -> dict[str, Any]:
    return {"id": row.id, "event": row.event, "webhook_id": row.webhook_id, "status": row.status,
            "attempts": row.attempts, "next_attempt_at": row.due_at if row.status == "pending" else None,
            "last_error": row.last_error, "delivery_id": row.delivery_id, "submission_id": row.submission_id,
            "case_id": row.case_id, "payload": row.payload, "created_at": as_utc(row.created_at).isoformat(),
            "delivered_at": as_utc(row.delivered_at).isoformat() if row.delivered_at else None}


def _as_id(value: Any) -> int | None:
    # Submission ids arrive as int or str (the review service passes them as text).
    return int(value) if value is not None and str(value).isdigit() else None


class ActionService:
    def __init__(self, sessions: sessionmaker, settings: Settings, banks: BankService) -> None:
        self._sessions = sessions
        self.settings = settings
        self._banks = banks
        # Set when new actions are queued, so an in-process delivery worker wakes at once.
        self.wakeup = threading.Event()

    # -- policies ------------------------------------------------------------
    def outcomes(self, matches: list[Match]) -> dict[str, list[Match]]:
        """Block matches split by their bank's policy: {"auto": [...], "review": [...], "none": [...]}."""
        out: dict[str, list[Match]] = {"auto": [], "review": [], "none": []}
        policies = {}
        for match in matches:
            if match.bank_kind != "block":
                continue
            if match.bank not in policies:
                bank = self._banks.get_bank(match.bank)
                policies[match.bank] = policy_from_options(bank.options, bank.name)
            outcome = policies[match.bank].outcome(match)
            if outcome == "auto" and match.evidence.get(PROBATION):
                outcome = "review"  # a rising signal on flood probation (crossmatch/flood/guard.py) waits for a person
            out[outcome].append(match)
        return out

    def wants_review(self, result: ScanResult) -> bool:
        return bool(self.outcomes(result.matches)["review"])

    # -- what produces actions ------------------------------------------------
    def on_scan(self, result: ScanResult, submission_id: str | int | None, case_id: int | None,
                session: Session | None = None) -> list[int]:
        split = self.outcomes(result.matches)
        base = {"item": result.item, "kind": result.kind, "submission_id": submission_id}
        sub = _as_id(submission_id)
        ids: list[int] = []
        if split["auto"]:
            ids += self.enqueue("match.auto", {**base, "matches": [m.to_json() for m in split["auto"]]}, sub, case_id, session)
        if case_id is not None:
            ids += self.enqueue("match.review", {**base, "case_id": case_id, "matches": [m.to_json() for m in split["review"]]},
                                sub, case_id, session)
        if submission_id is not None:
            ids += self.enqueue("submission.scanned", {**result.to_json(), "submission_id": submission_id, "case_id": case_id},
                                sub, case_id, session)
        return ids

    def on_decision(self, case_id: int, decision: str, actor: str, payload: dict[str, Any],
                    session: Session | None = None) -> list[int]:
        data = {"case_id": case_id, "decision": decision, "actor": actor, **payload}
        return self.enqueue("decision", data, _as_id(payload.get("submission_id")), case_id, session)

    def enqueue(self, event: str, payload: dict[str, Any], submission_id: int | None = None, case_id: int | None = None,
                session: Session | None = None) -> list[int]:
        """One pending action per subscribed webhook.  The actions table is the outbox: with
        ``session`` the actions commit with the caller's workflow, so none is delivered for a
        decision or scan that did not commit, and a rerun after a crash finds no earlier copy."""
        check_events([event])
        with transaction(self._sessions, session) as tx:
            hooks = [h for h in tx.scalars(select(Webhook).where(Webhook.enabled.is_(True))) if event in (h.events or [])]
            if not hooks:
                return []
            rows = [
                {"event": event, "webhook_id": h.id, "payload": payload, "status": "pending", "attempts": 0,
                 "due_at": time.time(), "delivery_id": uuid.uuid4().hex, "submission_id": submission_id, "case_id": case_id}
                for h in hooks
            ]
            ids = list(tx.scalars(insert(Action).returning(Action.id), rows))
            on_commit(tx, self.wakeup.set)  # the delivery worker looks only once the rows are visible
        return ids

    # -- webhooks ---------------------------------------------------------------
    def create_webhook(self, name: str, url: str, events: list[str] | None = None, secret: str | None = None) -> tuple[dict[str, Any], str]:
        """Returns (the webhook, its signing secret: shown now, needed by the receiver to verify)."""
        if not name or len(name) > 200:
            raise InvalidInput("a webhook name must be 1-200 characters")
        secret = secret or secrets.token_urlsafe(32)
        if len(secret) < 16:
            raise InvalidInput("a webhook secret must be at least 16 characters")
        check_destination(check_url(url), self.settings.service.webhook_egress)
        row = Webhook(name=name, url=check_url(url), secret=secret, events=check_events(events or DEFAULT_EVENTS), enabled=True)
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                return webhook_json(row), secret
        except IntegrityError:
            raise Conflict(f"a webhook named {name!r} already exists; change it instead") from None

    def list_webhooks(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [webhook_json(h) for h in session.scalars(select(Webhook).order_by(Webhook.id))]

    def webhook(self, webhook_id: int) -> Webhook:
        with self._sessions() as session:
            row = session.get(Webhook, webhook_id)
        if row is None:
            raise NotFound(f"no webhook with id {webhook_id}; see GET /api/v1/webhooks")
        return row

    def update_webhook(self, webhook_id: int, **changes: Any) -> dict[str, Any]:
        with self._sessions.begin() as session:
            row = session.get(Webhook, webhook_id)
            if row is None:
                raise NotFound(f"no webhook with id {webhook_id}; see GET /api/v1/webhooks")
            if changes.get("url") is not None:
                row.url = check_url(changes["url"])
                check_destination(row.url, self.settings.service.webhook_egress)
            if changes.get("events") is not None:
                row.events = check_events(changes["events"])
            if changes.get("enabled") is not None:
                row.enabled = bool(changes["enabled"])
            if changes.get("secret") is not None:
                if len(changes["secret"]) < 16:
                    raise InvalidInput("a webhook secret must be at least 16 characters")
                row.secret = changes["secret"]
            return webhook_json(row)

    def delete_webhook(self, webhook_id: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(Webhook, webhook_id)
            if row is None:
                raise NotFound(f"no webhook with id {webhook_id}")
            session.delete(row)
            # Its undelivered actions cannot reach anyone now: dead letters, kept for the record.
            session.execute(
                update(Action).where(Action.webhook_id == webhook_id, Action.status == "pending")
                .values(status="dead", last_error="webhook deleted")
            )

    # -- actions -------------------------------------------------------------------
    def list_actions(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("limit must be 1-1000 and offset >= 0")
        query = select(Action).order_by(Action.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(Action.status == status)
        with self._sessions() as session:
            return [action_json(a) for a in session.scalars(query)]

    def get_action(self, action_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            row = session.get(Action, action_id)
            if row is None:
                raise NotFound(f"no action with id {action_id}; see GET /api/v1/actions")
            return action_json(row)

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            found = dict(session.execute(select(Action.status, func.count()).group_by(Action.status)).all())
        return {s: int(found.get(s, 0)) for s in STATUSES}

    def retry(self, action_id: int) -> dict[str, Any]:
        """Move a dead letter back to pending, with a fresh attempt budget."""
        with self._sessions.begin() as session:
            row = session.get(Action, action_id)
            if row is None:
                raise NotFound(f"no action with id {action_id}; see GET /api/v1/actions?status=dead")
            if row.status != "dead":
                raise Conflict(f"action {action_id} is {row.status}, not dead; only dead letters can be retried")
            if session.get(Webhook, row.webhook_id) is None:
                raise Conflict(f"action {action_id}'s webhook was deleted; it cannot be delivered")
            row.status, row.attempts, row.due_at, row.last_error = "pending", 0, time.time(), None
            out = action_json(row)
        self.wakeup.set()
        return out

    def retry_dead(self) -> int:
        with self._sessions() as session:
            ids = list(session.scalars(select(Action.id).where(Action.status == "dead")))
        done = 0
        for action_id in ids:
            try:
                self.retry(action_id)
                done += 1
            except (Conflict, NotFound):
                continue
        return done
