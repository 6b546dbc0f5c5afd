"""Flood quarantine of bank signals.

A meme or a logo that slipped into a shared list matches thousands of benign uploads:
thousands of cases and auto actions. Every match of a block bank's signal (bank item +
signal type) is counted per distinct upload over sliding windows. A signal whose
recent count exceeds ``multiple`` x its baseline (the longer history before, scaled to
one window; at least ``min_hits``), or ``max_per_hour`` distinct uploads in an hour, is
quarantined: its matches are still recorded (hits, and one grouped case), but they open
no case of their own and take no auto action until a curator releases the signal or
disables the bank item. Webhook event ``signal.quarantined`` announces it.

At the quarantine, the undecided cases already opened for the signal's uploads of the last
window are folded into the grouped case (their matches copied onto it; the small case closed
as ``merged`` with a note and an audit entry, never deleted), so a flood ends as one case.
Optional: a shorter second window (``short_window_s``/``short_min_hits``) quarantines a fast
flood sooner, and probation (``probation_hits``) sends a rising signal's matches to review
instead of auto actions before the quarantine.

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
from crossmatch.flood import PROBATION
from crossmatch.flood.lowinfo import LABEL as LOW_INFORMATION
from crossmatch.flood.models import FloodHit, FloodQuarantine
from crossmatch.settings import FloodSettings
from crossmatch.store.models import utcnow

DECISIONS = {"release": "released", "disable": "disabled"}
# The submission worker names uploads "submission:<id>"; their cases carry that id (crossmatch/api/submissions.py).
SUBMISSION_UPLOAD = "submission:"
FOLDED_BY = "flood-guard"  # the audit actor of a fold


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
        fresh: set[int] = set()  # quarantined by this upload: fold the signal's earlier cases
        on_probation: dict[int, str] = {}  # id(match) -> why
        for (item_id, signal_type), matches in by_signal.items():
            self._count(session, item_id, signal_type, upload, now)
            row = session.scalar(select(FloodQuarantine).where(FloodQuarantine.bank_item_id == item_id,
                                                               FloodQuarantine.signal_type == signal_type))
            if row is None:
                flagged = (matches[0].item_labels or {}).get(LOW_INFORMATION)
                rates = None if flagged else self._rates(session, item_id, signal_type, now)
                reason = f"low-information bank signal ({flagged})" if flagged else self._spike(rates)
                if reason is None:
                    why = self._probation(rates)
                    if why:
                        on_probation.update({id(m): why for m in matches})
                    continue
                row = self._quarantine(session, matches[0], reason, upload)
                fresh.add(row.id)
            if row.status == "quarantined":
                held.setdefault(row.id, []).extend(matches)
        if not held and not on_probation:
            return result
        held_ids = {id(m) for ms in held.values() for m in ms}
        kept = [m if id(m) not in on_probation else dataclasses.replace(m, evidence={**m.evidence, PROBATION: on_probation[id(m)]})
                for m in result.matches if id(m) not in held_ids]
        warnings = list(result.warnings)
        for quarantine_id, matches in held.items():
            row = session.get(FloodQuarantine, quarantine_id)
            self._group(session, row, result, matches, content)
            if quarantine_id in fresh:
                merged = self._fold(session, row, now)
                if self._actions is not None:  # announced once the grouped case exists, so the event names it
                    self._actions.enqueue("signal.quarantined", quarantine_json(row) | {"upload": upload, "merged_cases": merged},
                                          session=session)
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

    def _rates(self, session: Session, item_id: int, signal_type: str, now) -> dict[str, float]:
        """Distinct uploads in the last hour, the window and the short window, and the baseline per window."""
        s = self.settings

        def hits(since, until) -> int:
            return session.scalar(select(func.count()).select_from(FloodHit).where(
                FloodHit.bank_item_id == item_id, FloodHit.signal_type == signal_type,
                FloodHit.at > since, FloodHit.at <= until)) or 0

        hour = hits(now - timedelta(hours=1), now)
        recent = hour if s.window_s == 3600 else hits(now - timedelta(seconds=s.window_s), now)
        short = hits(now - timedelta(seconds=s.short_window_s), now) if s.short_min_hits else 0
        before = hits(now - timedelta(seconds=s.baseline_s), now - timedelta(seconds=s.window_s))
        return {"hour": hour, "recent": recent, "short": short,
                "baseline": before * s.window_s / max(1.0, s.baseline_s - s.window_s)}

    def _spike(self, rates: dict[str, float]) -> str | None:
        """Why this signal floods now, or None."""
        s = self.settings
        if rates["hour"] > s.max_per_hour:
            return f"{rates['hour']:g} distinct uploads in the last hour (limit {s.max_per_hour})"
        baseline, recent = rates["baseline"], rates["recent"]
        if recent >= s.min_hits and recent > s.multiple * baseline:  # a signal with no history floods at min_hits
            return (f"{recent:g} distinct uploads in {s.window_s / 60:g} min against a baseline of {baseline:.2f} "
                    f"(more than {s.multiple:g}x)")
        short_baseline = baseline * s.short_window_s / s.window_s
        if s.short_min_hits and rates["short"] >= s.short_min_hits and rates["short"] > s.multiple * short_baseline:
            return (f"{rates['short']:g} distinct uploads in {s.short_window_s / 60:g} min against a baseline of "
                    f"{short_baseline:.2f} (more than {s.multiple:g}x)")
        return None

    def _probation(self, rates: dict[str, float]) -> str | None:
        """Why a rising (not yet quarantined) signal's matches wait for review instead of acting, or None."""
        s = self.settings
        if not s.probation_hits or rates["recent"] < s.probation_hits or rates["recent"] <= s.multiple * rates["baseline"]:
            return None
        return (f"flood probation: {rates['recent']:g} distinct uploads in {s.window_s / 60:g} min against a baseline "
                f"of {rates['baseline']:.2f}; reviewed instead of acting automatically")

    # -- quarantining -----------------------------------------------------------------
    def _quarantine(self, session: Session, match: Match, reason: str, upload: str) -> FloodQuarantine:
        row = FloodQuarantine(bank_item_id=match.bank_item_id, signal_type=match.signal_type, bank=match.bank,
                              bank_item=match.bank_item[:500], status="quarantined", reason=reason, held=0, started_at=utcnow())
        session.add(row)
        session.flush()
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
        self._add_matches(session, row.case_id, matches, result.item)

    def _fold(self, session: Session, row: FloodQuarantine, now) -> list[int]:
        """The undecided cases opened for this signal's uploads of the last window join the grouped case.

        Each keeps its row and history (status ``merged``, a note naming the grouped case, an audit
        entry). A case a reviewer decided, escalated or holds stays as it is; a case that also matched
        other bank signals stays open for them, its matches of this signal copied to the grouped case.
        Returns the ids of the cases merged."""
        if self._review is None or row.case_id is None:
            return []
        from crossmatch.review.models import Case, aware

        span = max(self.settings.window_s, self.settings.short_window_s if self.settings.short_min_hits else 0)
        uploads = session.scalars(select(FloodHit.upload).where(
            FloodHit.bank_item_id == row.bank_item_id, FloodHit.signal_type == row.signal_type,
            FloodHit.at > now - timedelta(seconds=span), FloodHit.upload.startswith(SUBMISSION_UPLOAD))).all()
        ids = [u[len(SUBMISSION_UPLOAD):] for u in uploads]
        if not ids:
            return []
        cases = session.scalars(select(Case).where(Case.submission_id.in_(ids), Case.status == "open",
                                                   Case.id != row.case_id).order_by(Case.id)).all()
        merged = []
        for case in cases:
            if case.decisions or (case.claimed_by and case.claimed_until and aware(case.claimed_until) > utcnow()):
                continue
            mine = [m for m in case.matches if m.bank_item_id == row.bank_item_id and m.signal_type == row.signal_type]
            if not mine:
                continue
            self._add_matches(session, row.case_id, [_match_of(m) for m in mine], case.item, merged_from=case.id)
            others = any(m.bank_kind == "block" and m not in mine for m in case.matches)
            self._review.merge_into(session, case, row.case_id, FOLDED_BY, close=not others,
                                    why=f"flood quarantine {row.id} of {row.bank}/{row.bank_item} ({row.signal_type})")
            if not others:
                merged.append(case.id)
        return merged

    def _add_matches(self, session: Session, case_id: int, matches: list[Match], upload: str, merged_from: int | None = None) -> None:
        """Matches recorded on the grouped case, up to ``grouped_case_matches`` (all are counted in ``held``)."""
        from crossmatch.review import evidence as ev
        from crossmatch.review.models import CaseMatch

        kept = session.scalar(select(func.count()).select_from(CaseMatch).where(CaseMatch.case_id == case_id)) or 0
        extra = {"upload": upload} | ({"merged_from_case": merged_from} if merged_from is not None else {})
        for m in matches[: max(0, self.settings.grouped_case_matches - kept)]:
            session.add(CaseMatch(case_id=case_id, bank=m.bank, bank_kind=m.bank_kind, bank_item_id=m.bank_item_id,
                                  bank_item=m.bank_item, item_labels=ev.enrich(m.item_labels, None), signal_type=m.signal_type,
                                  threshold=float(m.threshold), distance=m.distance, score=m.score, strength=ev.strength_of(m),
                                  evidence={**ev.enrich(m.evidence, None), **extra}))


def _match_of(row: Any) -> Match:
    # A recorded case match as an engine match, to copy onto the grouped case.
    return Match(bank=row.bank, bank_kind=row.bank_kind, bank_item=row.bank_item, bank_item_id=row.bank_item_id,
                 item_labels=dict(row.item_labels or {}), signal_type=row.signal_type, threshold=row.threshold,
                 distance=row.distance, score=row.score, evidence=dict(row.evidence or {}))


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
