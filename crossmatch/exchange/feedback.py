"""Reviewers' verdicts back upstream: for each decided case whose match came from an exchange's
item, a true- or false-positive opinion (with the decision's note as the reason) through
python-threatexchange, by the call each exchange's own client has:

- ThreatExchange (``fb_threatexchange``): the library's ``ThreatExchangeAPI.react_to_threat_descriptor``
  on every other member's descriptor of the indicator (ids kept from the fetch): ``HELPFUL`` for a
  true positive, ``DISAGREE_WITH_TAGS`` for a false positive, the two reactions the library itself
  reads back as positive / negative opinions. Reactions carry no text: the note stays local.
- NCMEC (``ncmec``): the library's ``NCMECHashAPI.submit_feedback`` on the entry (ESP id + entry id
  from the fetch) and fingerprint type: upvote for a true positive, downvote with a negative-reason
  id for a false positive (the configured ``feedback_reason``, else the only reason NCMEC offers).
- Every other API: its ``report_opinion`` (``local_file`` takes true positives without tags).
  TCAP and StopNCII: ``unsupported``, with the reason in ``NO_FEEDBACK_CALL``.

Batched (``batch`` opinions per pass, then a commit), each call retried with backoff, a dry
run that sends nothing, and one audit entry per push. Every (exchange, case, bank item) is
written once to ``exchange_feedback`` with what became of it: ``sent``, ``unsupported`` (with the
reason) or ``failed`` (retried on the next push). ``report_seen`` is not offered by the library's
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
    source_key: str = ""  # the exchange's key of the record (NCMEC: "<esp id>-<entry id>")
    labels: dict[str, Any] = field(default_factory=dict)  # the record's metadata as fetched (ThreatExchange: descriptor ids)


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
            select(Case.id, Case.status, CaseMatch.bank_item, CaseMatch.bank_item_id, ExchangeItem.source_key, ExchangeItem.labels)
            .join(CaseMatch, CaseMatch.case_id == Case.id)
            .join(ExchangeItem, (ExchangeItem.external_id == CaseMatch.bank_item) & (ExchangeItem.exchange_id == exchange.id))
            .where(Case.status.in_(tuple(OPINIONS)), CaseMatch.bank == exchange.bank_name, ExchangeItem.deleted.is_(False))
            .order_by(Case.id)).all()
        notes = {}
        for case_id, note in session.execute(select(Decision.case_id, Decision.note).order_by(Decision.id)):
            notes[case_id] = note or ""
    out: dict[tuple[int, str], Verdict] = {}
    for case_id, status, bank_item, item_id, source_key, labels in rows:
        if (case_id, bank_item) in done or (case_id, bank_item) in out:
            continue
        _, signals = ctx.banks.get_item(exchange.bank_name, bank_item)
        out[(case_id, bank_item)] = Verdict(case_id, bank_item, OPINIONS[status], notes.get(case_id, ""),
                                            [(s.type, s.value) for s in signals if not (s.meta or {}).get("region")],
                                            source_key, dict(labels or {}))
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
    send = _sender(api, exchange.config or {})
    for start in range(0, len(verdicts), batch):
        rows = [send(v, attempts, backoff_s) for v in verdicts[start : start + batch]]
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


Sender = Callable[[Verdict, int, float], tuple[str, str, int]]

TE_REACTIONS = {"true_positive": "HELPFUL", "false_positive": "DISAGREE_WITH_TAGS"}
# Exchanges whose python-threatexchange client (1.2.17) offers no usable feedback call, and why.
NO_FEEDBACK_CALL = {
    "tat": "TCAP's hash list API client (TATHashListAPI) has no call for feedback on a hash",
    "stop_ncii": ("python-threatexchange builds its StopNCII client with the fetch function key only; its "
                  "submit_feedback needs a SubmitFeedback function key the library's credentials cannot carry"),
}


def _sender(api: Any, config: dict[str, Any]) -> Sender:
    """How this exchange's client takes an opinion: the lower-level client's own call where the
    library's SignalExchangeAPI has no ``report_opinion`` for it, else ``report_opinion``."""
    from threatexchange.exchanges.impl.fb_threatexchange_api import FBThreatExchangeSignalExchangeAPI
    from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI

    if isinstance(api, FBThreatExchangeSignalExchangeAPI):
        return lambda v, attempts, backoff_s: _send_te(api.client, v, attempts, backoff_s)
    if isinstance(api, NCMECSignalExchangeAPI):
        client = api.get_client(api.collab.environment)
        return lambda v, attempts, backoff_s: _send_ncmec(client, v, config.get("feedback_reason"), attempts, backoff_s)
    name = api.get_name() if hasattr(api, "get_name") else ""
    if name in NO_FEEDBACK_CALL:
        return lambda v, attempts, backoff_s: ("unsupported", NO_FEEDBACK_CALL[name], 0)
    return lambda v, attempts, backoff_s: _send(api, v, attempts, backoff_s)


def _send_te(client: Any, verdict: Verdict, attempts: int, backoff_s: float) -> tuple[str, str, int]:
    """A reaction on every other member's descriptor of the indicator (one's own needs none)."""
    descriptors = sorted({int(o["descriptor_id"]) for o in verdict.labels.get("opinions") or []
                          if not o.get("is_mine") and o.get("descriptor_id") not in (None, -1)})
    if not descriptors:
        return "unsupported", "no other member's ThreatExchange descriptor to react to (only reactions or our own)", 0
    reaction = TE_REACTIONS[verdict.opinion]

    def react(descriptor_id: int) -> None:
        # The library returns [validation error, HTTP error, body] instead of raising; TE answers {"success": true}.
        _, error, body = client.react_to_threat_descriptor(descriptor_id, reaction)
        if error is not None or not (isinstance(body, dict) and body.get("success") is True):
            raise RuntimeError(f"ThreatExchange refused {reaction} on descriptor {descriptor_id}: {str(error or body)[:200]}")

    tries = 0
    for descriptor_id in descriptors:
        try:
            tries += _with_retries(lambda: react(descriptor_id), attempts, backoff_s)
        except Exception as exc:  # noqa: BLE001 - recorded and retried on the next push
            return "failed", f"{type(exc).__name__}: {exc}"[:500], tries + attempts
    return "sent", f"{reaction} on descriptor(s) {', '.join(map(str, descriptors))}", tries


def _send_ncmec(client: Any, verdict: Verdict, reason: str | None, attempts: int, backoff_s: float) -> tuple[str, str, int]:
    """Upvote or downvote the entry's fingerprints of the types the bank item has."""
    from threatexchange.exchanges.clients.ncmec.hash_api import FeedbackType, FingerprintType

    esp, _, entry = verdict.source_key.partition("-")
    if not esp.isdigit() or not entry:
        return "unsupported", f"record key {verdict.source_key!r} is not an NCMEC '<esp id>-<entry id>'", 0
    by_name = {f.value: f for f in FingerprintType}
    kinds = sorted({by_name[t.upper()] for t, _ in verdict.signals if t.upper() in by_name}, key=lambda f: f.value)
    if not kinds:
        return "unsupported", "the bank item has no fingerprint type NCMEC takes feedback on", 0
    vote = FeedbackType.upvote if verdict.opinion == "true_positive" else FeedbackType.downvote
    tries = 0
    for kind in kinds:
        try:
            tries += _with_retries(lambda: client.submit_feedback(int(esp), entry, kind, vote, reason if vote is FeedbackType.downvote
                                                                  else None), attempts, backoff_s)
        except Exception as exc:  # noqa: BLE001 - recorded and retried on the next push
            return "failed", f"{type(exc).__name__}: {exc}"[:500], tries + attempts
    return "sent", f"{vote.value} on entry {esp}-{entry} ({', '.join(k.value for k in kinds)})", tries


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
