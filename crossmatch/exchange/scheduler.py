"""Scheduled syncs in the server: each enabled exchange runs when its interval has passed.

Several server processes may run the scheduler; an exchange is claimed by
moving its ``last_sync_at`` with a compare-and-set, so only one of them syncs it.
A failed sync keeps its checkpoint and is simply retried at the next interval.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, update

from crossmatch.actions.worker import BackgroundLoop
from crossmatch.context import Context
from crossmatch.exchange.models import Exchange
from crossmatch.exchange.service import ExchangeService
from crossmatch.exchange.sync import SyncReport
from crossmatch.settings import Settings

log = logging.getLogger(__name__)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def run_due(ctx: Context, now: datetime | None = None) -> list[SyncReport]:
    """Sync every enabled exchange whose interval has passed; returns the reports."""
    now = now or datetime.now(timezone.utc)
    service = ExchangeService(ctx)
    reports: list[SyncReport] = []
    with ctx.sessions() as session:
        rows = list(session.scalars(select(Exchange).where(Exchange.enabled.is_(True), Exchange.interval_seconds > 0)))
    for row in rows:
        last = _aware(row.last_sync_at)
        if last is not None and last + timedelta(seconds=row.interval_seconds) > now:
            continue
        with ctx.sessions.begin() as session:
            claimed = session.execute(
                update(Exchange)
                .where(Exchange.id == row.id, or_(Exchange.last_sync_at.is_(None), Exchange.last_sync_at == row.last_sync_at))
                .values(last_sync_at=now)
            ).rowcount
        if not claimed:
            continue  # another process took it
        report = service.sync(row.name)
        if report.error:
            log.warning("scheduled sync of %s failed: %s", row.name, report.error)
        reports.append(report)
    return reports


def exchange_loops(ctx: Context, settings: Settings) -> list[BackgroundLoop]:
    """The scheduler as a background loop for the server's lifespan (none when disabled)."""
    if not settings.exchange.scheduler_enabled:
        return []

    def step() -> bool:
        run_due(ctx)
        return False  # wait a poll interval either way

    return [BackgroundLoop("exchanges", step, threading.Event(), settings.exchange.scheduler_poll_s)]
