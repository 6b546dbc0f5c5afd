"""Flood quarantine of bank signals.

A meme or a logo that slipped into a shared list matches thousands of benign uploads:
thousands of cases and auto actions. Every match of a block bank's signal (bank item +
signal type) is counted per distinct upload over sliding windows. A signal whose
recent count exceeds ``multiple`` x its baseline (the longer history before, scaled to
one window; at least ``min_hits``), or ``max_per_hour`` distinct uploads in an hour, is
quarantined: its matches are still recorded (hits, and one grouped case), but they open
no case of their own and take no auto action until a curator releases the signal or
disables the bank item. Webhook event ``signal.quarantined`` announces it.

Runs inside the submission's transaction (:mod:`crossmatch.api.submissions`), so a
rolled-back scan counts nothing, and a rerun of one upload counts once.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crossmatch.engine import Match, ScanResult
from crossmatch.errors import InvalidInput, NotFound
from crossmatch.flood.lowinfo import LABEL as LOW_INFORMATION
from crossmatch.flood.models import FloodHit, FloodQuarantine
from crossmatch.settings import FloodSettings
from crossmatch.store.models import utcnow

DECISIONS = {"release": "released", "disable": "disabled"}


class FloodGuard:
    def __init__(self, settings: FloodSettings, actions: Any = None, review: Any = None) -> None:
        self.settings = settings
        self._actions = actions
        self._review = review

    def screen(self, result: ScanResult, upload: str, content: Any, session: Session) -> ScanResult:
        """Count this upload's block matches; the result without the matches of quarantined signals
        (those go to the signal's grouped case, and a warning says so)."""
        if not self.settings.enabled or not result.matches:
            return result
        now = utcnow()
        by_signal: dict[tuple[int, str], list[Match]] = {}
        for m in result.matches:
            if m.bank_kind == "block":
                by_signal.setdefault((m.bank_item_id, m.signal_type), []).append(m)
        held: dict[int, list[Match]] = {}
        for (item_id, signal_type), matches in by_signal.items():
            self._count(session, item_id, signal_type, upload, now)
            row = session.scalar(select(FloodQuarantine).where(FloodQuarantine.bank_item_id == item_id,
                                                               FloodQuarantine.signal_type == signal_type))
            if row is None:
                flagged = (matches[0].item_labels or {}).get(LOW_INFORMATION)
                reason = f"low-information bank signal ({flagged})" if flagged else self._spike(session, item_id, signal_type, now)
                if reason is None:
                    continue
                row = self._quarantine(session, matches[0], reason, upload)
            if row.status == "quarantined":
                held.setdefault(row.id, []).extend(matches)
        if not held:
            return result
        held_ids = {id(m) for ms in held.values() for m in ms}
        kept = [m for m in result.matches if id(m) not in held_ids]
        warnings = list(result.warnings)
        for quarantine_id, matches in held.items():
            row = session.get(FloodQuarantine, quarantine_id)
            self._group(session, row, result, matches, content)
            warnings.append(f"{len(matches)} match(es) of bank item {row.bank_item!r} in {row.bank!r} ({row.signal_type}) held: "
                            f"the signal is quarantined for a flood ({row.reason}); a curator decides on case {row.case_id}")
        return dataclasses.replace(result, matches=kept, warnings=warnings)

    # -- counting -------------------------------------------------------------------
    @staticmethod
    def _count(session: Session, item_id: int, signal_type: str, upload: str, now) -> None:
        upload = upload[:200]
        seen = session.scalar(select(FloodHit.id).where(FloodHit.bank_item_id == item_id, FloodHit.signal_type == signal_type,
                                                        FloodHit.upload == upload))
        if seen is None:
            session.add(FloodHit(bank_item_id=item_id, signal_type=signal_type, upload=upload, at=now))
            session.flush()

    def _spike(self, session: Session, item_id: int, signal_type: str, now) -> str | None:
        """Why this signal floods now, or None."""
        s = self.settings

        def hits(since, until) -> int:
            return session.scalar(select(func.count()).select_from(FloodHit).where(
                FloodHit.bank_item_id == item_id, FloodHit.signal_type == signal_type,
                FloodHit.at > since, FloodHit.at <= until)) or 0

        hour = hits(now - timedelta(hours=1), now)
        if hour > s.max_per_hour:
            return f"{hour} distinct uploads in the last hour (limit {s.max_per_hour})"
        recent = hour if s.window_s == 3600 else hits(now - timedelta(seconds=s.window_s), now)
        if recent < s.min_hits:
            return None
        before = hits(now - timedelta(seconds=s.baseline_s), now - timedelta(seconds=s.window_s))
        baseline = before * s.window_s / max(1.0, s.baseline_s - s.window_s)
        if recent > s.multiple * baseline:  # a signal with no history floods at min_hits
            return (f"{recent} distinct uploads in {s.window_s / 60:g} min against a baseline of {baseline:.2f} "
                    f"(more than {s.multiple:g}x)")
        return None

    # -- quarantining -----------------------------------------------------------------
    def _quarantine(self, session: Session, match: Match, reason: str, upload: str) -> FloodQuarantine:
        row = FloodQuarantine(bank_item_id=match.bank_item_id, signal_type=match.signal_type, bank=match.bank,
                              bank_item=match.bank_item[:500], status="quarantined", reason=reason, held=0, started_at=utcnow())
        session.add(row)
        session.flush()
        if self._actions is not None:
            self._actions.enqueue("signal.quarantined", quarantine_json(row) | {"upload": upload}, session=session)
        return row

    def _group(self, session: Session, row: FloodQuarantine, result: ScanResult, matches: list[Match], content: Any) -> None:
        """All held matches go to one case per quarantine: the first opens it, later ones join it (up to a cap)."""
        row.held += len(matches)
        if self._review is None:
            return
        if row.case_id is None:
            grouped = dataclasses.replace(result, item=f"flood quarantine: {row.bank}/{row.bank_item} ({row.signal_type})",
                                          matches=matches, warnings=[f"flood quarantine: {row.reason}"])
            row.case_id = self._review.open_case(grouped, content, None, "flood-quarantine", session=session)
            return
        from crossmatch.review import evidence as ev
        from crossmatch.review.models import CaseMatch

        kept = session.scalar(select(func.count()).select_from(CaseMatch).where(CaseMatch.case_id == row.case_id)) or 0
        for m in matches[: max(0, self.settings.grouped_case_matches - kept)]:
            session.add(CaseMatch(case_id=row.case_id, bank=m.bank, bank_kind=m.bank_kind, bank_item_id=m.bank_item_id,
                                  bank_item=m.bank_item, item_labels=ev.enrich(m.item_labels, None), signal_type=m.signal_type,
                                  threshold=float(m.threshold), distance=m.distance, score=m.score, strength=ev.strength_of(m),
                                  evidence={**ev.enrich(m.evidence, None), "upload": result.item}))


def quarantine_json(row: FloodQuarantine) -> dict[str, Any]:
    return {"id": row.id, "bank": row.bank, "bank_item": row.bank_item, "bank_item_id": row.bank_item_id,
            "signal_type": row.signal_type, "status": row.status, "reason": row.reason, "case_id": row.case_id,
            "held": row.held, "started_at": row.started_at.isoformat() if row.started_at else None,
            "decided_by": row.decided_by}


class FloodService:
    """What curators see and decide: list quarantines, release a signal or disable its bank item."""

    def __init__(self, sessions: Any, banks: Any, audit: Any = None) -> None:
        self._sessions = sessions
        self._banks = banks
        self._audit = audit

    def list(self, status: str | None = "quarantined") -> list[dict[str, Any]]:
        with self._sessions() as session:
            query = select(FloodQuarantine).order_by(FloodQuarantine.id)
            if status:
                query = query.where(FloodQuarantine.status == status)
            return [quarantine_json(r) for r in session.scalars(query)]

    def decide(self, quarantine_id: int, decision: str, user: str) -> dict[str, Any]:
        """``release``: matches act again as the bank's policy says (and the signal is not quarantined
        again); ``disable``: the bank item stops matching."""
        if decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {sorted(DECISIONS)}, not {decision!r}")
        with self._sessions.begin() as session:
            row = session.get(FloodQuarantine, quarantine_id)
            if row is None:
                raise NotFound(f"no flood quarantine {quarantine_id}; see `crossmatch flood list`")
            if row.status != "quarantined":
                raise InvalidInput(f"quarantine {quarantine_id} was already decided ({row.status} by {row.decided_by})")
            session.execute(update(FloodQuarantine).where(FloodQuarantine.id == quarantine_id).values(
                status=DECISIONS[decision], decided_by=user, decided_at=utcnow()))
            bank, bank_item = row.bank, row.bank_item
        if decision == "disable":
            self._banks.disable_items(bank, [bank_item])
        if self._audit is not None:
            self._audit.record(user, f"flood.{decision}", f"quarantine:{quarantine_id}", {"bank": bank, "bank_item": bank_item})
        with self._sessions() as session:
            return quarantine_json(session.get(FloodQuarantine, quarantine_id))
