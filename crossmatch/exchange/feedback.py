"""Reviewers' verdicts back upstream: for each decided case whose match came from an exchange's
item, a true- or false-positive opinion (with the decision's note as the reason) through
python-threatexchange's own ``report_opinion`` for that exchange.

Batched (``batch`` opinions per pass, then a commit), each call retried with backoff, a dry
run that sends nothing, and one audit entry per push. Every (exchange, case, bank item) is
written once to ``exchange_feedback`` with what became of it: ``sent``, ``unsupported`` (the
API has no such call, or not for this opinion: python-threatexchange's ThreatExchange, NCMEC and
StopNCII clients raise NotImplementedError; ``local_file`` takes true positives without tags),
or ``failed`` (retried on the next push). ``report_seen`` is not offered by the library's
released APIs (commented out upstream), so seen-reports are not sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select

from crossmatch.errors import InvalidInput
from crossmatch.exchange.models import Exchange, ExchangeFeedback, ExchangeItem
from crossmatch.store.models import utcnow

OPINIONS = {"confirmed": "true_positive", "rejected": "false_positive"}


@dataclass
class Verdict:
    case_id: int
    bank_item: str
    opinion: str
    reason: str
    signals: list[tuple[str, str]]  # (signal type, value) of the bank item, as the exchange knows them


@dataclass
class FeedbackReport:
    exchange: str
    dry_run: bool
    sent: int = 0
    unsupported: int = 0
    failed: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "dry_run": self.dry_run, "sent": self.sent, "unsupported": self.unsupported,
                "failed": self.failed, "verdicts": self.verdicts}


def pending(ctx: Any, exchange: Exchange) -> list[Verdict]:
    """Decided cases matching this exchange's items, not yet sent (or failed before)."""
    from crossmatch.review.models import Case, CaseMatch, Decision

    with ctx.sessions() as session:
        done = {(r.case_id, r.bank_item) for r in session.scalars(select(ExchangeFeedback).where(
            ExchangeFeedback.exchange_id == exchange.id, ExchangeFeedback.status.in_(("sent", "unsupported"))))}
        rows = session.execute(
            select(Case.id, Case.status, CaseMatch.bank_item, CaseMatch.bank_item_id)
            .join(CaseMatch, CaseMatch.case_id == Case.id)
            .join(ExchangeItem, (ExchangeItem.external_id == CaseMatch.bank_item) & (ExchangeItem.exchange_id == exchange.id))
            .where(Case.status.in_(tuple(OPINIONS)), CaseMatch.bank == exchange.bank_name, ExchangeItem.deleted.is_(False))
            .order_by(Case.id)).all()
        notes = {}
        for case_id, note in session.execute(select(Decision.case_id, Decision.note).order_by(Decision.id)):
            notes[case_id] = note or ""
    out: dict[tuple[int, str], Verdict] = {}
    for case_id, status, bank_item, item_id in rows:
        if (case_id, bank_item) in done or (case_id, bank_item) in out:
            continue
        _, signals = ctx.banks.get_item(exchange.bank_name, bank_item)
        out[(case_id, bank_item)] = Verdict(case_id, bank_item, OPINIONS[status], notes.get(case_id, ""),
                                            [(s.type, s.value) for s in signals if not (s.meta or {}).get("region")])
    return list(out.values())


def push(ctx: Any, name: str, actor: str, dry_run: bool = False, batch: int = 100, attempts: int = 3,
         backoff_s: float = 1.0, api: Any = None, progress: Callable[[int], None] = lambda n: None) -> FeedbackReport:
    """Send the pending verdicts of exchange ``name``; ``api`` overrides the built client (tests)."""
    from crossmatch.exchange.service import ExchangeService, build_source

    exchange = ExchangeService(ctx).get(name)
    if exchange.kind != "pytx":
        raise InvalidInput(f"exchange {name!r} is a {exchange.kind} list: only python-threatexchange exchanges take opinions")
    report = FeedbackReport(name, dry_run)
    verdicts = pending(ctx, exchange)
    if dry_run:
        report.verdicts = [{"case_id": v.case_id, "bank_item": v.bank_item, "opinion": v.opinion, "reason": v.reason,
                            "status": "would send"} for v in verdicts]
        return report
    if verdicts and api is None:
        api = build_source(exchange, ctx.registry)._api()
    for start in range(0, len(verdicts), batch):
        rows = [_send(api, v, attempts, backoff_s) for v in verdicts[start : start + batch]]
        with ctx.sessions.begin() as session:
            for v, (status, detail, tries) in zip(verdicts[start : start + batch], rows):
                _record(session, exchange.id, v, status, detail, tries)
                setattr(report, status, getattr(report, status) + 1)
                report.verdicts.append({"case_id": v.case_id, "bank_item": v.bank_item, "opinion": v.opinion,
                                        "reason": v.reason, "status": status, "detail": detail})
        progress(len(rows))
    from crossmatch.audit.service import AuditLog

    AuditLog(ctx.sessions).record(actor, "exchange.feedback", name, {k: v for k, v in report.to_json().items() if k != "verdicts"})
    return report


def _send(api: Any, verdict: Verdict, attempts: int, backoff_s: float) -> tuple[str, str, int]:
    """(status, detail, tries) for one verdict: every known signal of the item gets the opinion."""
    from threatexchange.exchanges.fetch_state import SignalOpinion, SignalOpinionCategory

    from crossmatch.exchange.pytx import pytx_signal_types

    types = {t.get_name(): t for t in pytx_signal_types()}
    known = [(types[t], v) for t, v in verdict.signals if t in types]
    if not known:
        return "unsupported", "the bank item has no signal type the exchange knows", 0
    category = SignalOpinionCategory.POSITIVE_CLASS if verdict.opinion == "true_positive" else SignalOpinionCategory.NEGATIVE_CLASS
    tries = 0
    for s_type, value in known:
        for tags in ({verdict.reason} if verdict.reason else set(), set()):  # the reason as a tag, else without
            try:
                tries += _with_retries(lambda: api.report_opinion(s_type, value, SignalOpinion(True, category, tags)),
                                       attempts, backoff_s)
                break
            except NotImplementedError:
                if not tags:
                    return "unsupported", f"{type(api).__name__} does not take {verdict.opinion} opinions", tries
            except Exception as exc:  # noqa: BLE001 - recorded and retried on the next push
                return "failed", f"{type(exc).__name__}: {exc}"[:500], tries + attempts
    return "sent", "", tries


def _with_retries(call: Callable[[], Any], attempts: int, backoff_s: float) -> int:
    for n in range(1, attempts + 1):
        try:
            call()
            return n
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - a network fault: back off, then the last one propagates
            if n == attempts:
                raise
            time.sleep(backoff_s * 2 ** (n - 1))
    return attempts


def _record(session: Any, exchange_id: int, v: Verdict, status: str, detail: str, tries: int) -> None:
    row = session.scalar(select(ExchangeFeedback).where(ExchangeFeedback.exchange_id == exchange_id,
                                                        ExchangeFeedback.case_id == v.case_id, ExchangeFeedback.bank_item == v.bank_item))
    if row is None:
        session.add(ExchangeFeedback(exchange_id=exchange_id, case_id=v.case_id, bank_item=v.bank_item, opinion=v.opinion,
                                     reason=v.reason, status=status, detail=detail, attempts=tries, updated_at=utcnow()))
    else:
        row.status, row.detail, row.attempts, row.updated_at = status, detail, row.attempts + tries, utcnow()
