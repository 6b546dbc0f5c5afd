"""Review service: cases from scans, claims, decisions and their feedback into banks.

Decisions feed back into the banks (opinion counts, one-click allow-bank
entries), are written to the audit trail and handed to the action service,
which turns them into effects (webhooks), all in the decision's one transaction.
Claims are taken with one conditional UPDATE so two reviewers can never decide
the same case at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, defer, selectinload, sessionmaker

from crossmatch.banks.service import BankService, ItemUpsert
from crossmatch.engine import ScanResult
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.hashing import bank_signals
from crossmatch.review import evidence as ev
from crossmatch.review.schemas import decision_payload
from crossmatch.review.media import make_preview, make_video_preview, media_dir, purge_expired, remove_preview
from crossmatch.review.models import (
    FINAL_STATUSES, MERGED, OPEN_STATUSES, AllowProposal, Case, CaseMatch, Decision, ReviewerExposure, ReviewerPreference, aware, utcnow,
)
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, Signal
from crossmatch.store.db import on_commit, transaction

log = logging.getLogger(__name__)

DECISIONS = {"confirm": "confirmed", "reject": "rejected", "escalate": "escalated"}
SENIOR = ("senior", "admin")  # who decides escalated cases and reopens decided ones
# Each sort as (column, descending) keys ending in the id, so "next" is a keyset query (no list of 10,000 ids).
SORT_KEYS = {
    "age": ((Case.created_at, False), (Case.id, False)),
    "severity": ((Case.severity, True), (Case.created_at, False), (Case.id, False)),
    "score": ((Case.strength, True), (Case.created_at, False), (Case.id, False)),
    "bank": ((Case.bank_labels, False), (Case.bank, False), (Case.id, False)),
}
SORTS = {name: tuple(col.desc() if desc else col.asc() for col, desc in keys) for name, keys in SORT_KEYS.items()}
STATUS_FILTERS = {"pending": OPEN_STATUSES, "decided": FINAL_STATUSES, **{s: (s,) for s in OPEN_STATUSES + FINAL_STATUSES + (MERGED,)}}
MAX_SIGNALS = 200  # query signals kept per case (enough for dihedral PDQ, text chunks)
# The bank column of a case opened because the item could not be fully checked (no match to show).
UNCHECKED_BANK = "(not fully checked)"


class ReviewService:
    def __init__(self, sessions: sessionmaker, banks: BankService, audit: Any, actions: Any, settings: Settings) -> None:
        self._sessions = sessions
        self._banks = banks
        self._audit = audit
        self._actions = actions
        self._settings = settings

    # -- opening cases ------------------------------------------------------
    def open_case(
        self, result: ScanResult, content: Content | None, submission_id: str | None = None, source: str | None = None,
        session: Session | None = None,
    ) -> int | None:
        """A case for scanned content with block matches, or for content that could not be fully
        checked (``result.complete`` false: fail closed); None when it was checked and nothing
        matched a block bank.

        With ``session`` the case commits with the caller's transaction (a submission's scan).
        """
        block = [m for m in result.matches if m.bank_kind == "block"]
        if not block:
            return self._open_unchecked(result, content, submission_id, source, session) if not result.complete else None
        bank_labels = {b.name: b.labels or {} for b in self._banks.list_banks()}
        rows = [
            CaseMatch(
                bank=m.bank, bank_kind=m.bank_kind, bank_item_id=m.bank_item_id, bank_item=m.bank_item,
                item_labels=ev.enrich(m.item_labels, None), signal_type=m.signal_type, threshold=float(m.threshold),
                distance=m.distance, score=m.score, strength=ev.strength_of(m), evidence=ev.enrich(m.evidence, content),
            )
            for m in block
        ]
        top = max(rows, key=lambda r: r.strength)
        preview, warnings = None, list(result.warnings)
        if self._settings.keep_media and content is not None:
            try:
                preview = self._preview(content, result)
            except InvalidInput as exc:
                warnings.append(str(exc))  # the case matters more than its picture
        with transaction(self._sessions, session) as tx:
            case = Case(
                status="open", item=result.item[:2000], kind=result.kind, submission_id=submission_id, source=source,
                severity=max(ev.item_severity(bank_labels.get(m.bank), m.item_labels) for m in block),
                strength=top.strength, bank=top.bank,
                bank_labels=ev.label_summary({**bank_labels.get(top.bank, {}), **top.item_labels}),
                language=ev.language_of(block, result.signals),
                signals=[s.to_json() for s in result.signals[:MAX_SIGNALS]],
                warnings=warnings, matches=rows,
            )
            tx.add(case)
            tx.flush()
            if preview is not None:
                path = media_dir(self._settings.home) / f"case-{case.id}.jpg"
                case.media_path = str(path)
                case.media_expires_at = utcnow() + timedelta(days=self._settings.media_retention_days)
                # Written once the case has committed, so a rolled-back or killed workflow leaves no
                # media behind; a crash in between leaves a case without its preview, never a stray copy.
                on_commit(tx, lambda: _write_preview(path, preview))
            return case.id

    def _open_unchecked(self, result: ScanResult, content: Content | None, submission_id: str | None,
                        source: str | None, session: Session | None) -> int:
        """A case with no match: the item could not be fully checked, so a person looks at it."""
        why = [f"not fully checked: {result.error}"] if result.error else []
        why += [f"not fully checked: {stage} did not run" for stage in result.incomplete]
        with transaction(self._sessions, session) as tx:
            case = Case(status="open", item=result.item[:2000], kind=result.kind, submission_id=submission_id, source=source,
                        severity=0, strength=0.0, bank=UNCHECKED_BANK, bank_labels="", language=None,
                        signals=[s.to_json() for s in result.signals[:MAX_SIGNALS]],
                        warnings=why + list(result.warnings), matches=[])
            tx.add(case)
            tx.flush()
            return case.id

    def _preview(self, content: Content, result: ScanResult) -> bytes | None:
        if content.kind == "image" and content.data:
            return make_preview(content.data, result.item, self._settings.image.max_pixels, self._settings.review.preview_side)
        if content.kind == "video" and (content.data or content.path):
            durations = [float(s.meta["duration"]) for s in result.signals if isinstance((s.meta or {}).get("duration"), (int, float))]
            return make_video_preview(content, self._settings, max(durations) if durations else None)
        return None

    # -- reading ------------------------------------------------------------
    def list_cases(
        self, status: str | None = "pending", bank: str | None = None, sort: str = "age", limit: int = 50, offset: int = 0,
        with_matches: bool = True,
    ) -> list[Case]:
        if sort not in SORTS:
            raise InvalidInput(f"sort must be one of {sorted(SORTS)}, got {sort!r}")
        if status is not None and status not in STATUS_FILTERS:
            raise InvalidInput(f"status must be one of {sorted(STATUS_FILTERS)}, got {status!r}")
        if not 1 <= limit <= 500 or offset < 0:
            raise InvalidInput("limit must be 1..500 and offset 0 or more")
        query = select(Case).options(defer(Case.signals), defer(Case.warnings))  # big JSON no list shows
        if with_matches:
            query = query.options(selectinload(Case.matches))
        if status is not None:
            query = query.where(Case.status.in_(STATUS_FILTERS[status]))
        if bank:
            query = query.where(Case.id.in_(select(CaseMatch.case_id).where(CaseMatch.bank == bank)))
        with self._sessions() as session:
            return list(session.scalars(query.order_by(*SORTS[sort]).limit(limit).offset(offset)))

    def count_cases(self, status: str | None = "pending", bank: str | None = None) -> int:
        query = select(func.count()).select_from(Case)
        if status is not None:
            query = query.where(Case.status.in_(STATUS_FILTERS.get(status, (status,))))
        if bank:
            query = query.where(Case.id.in_(select(CaseMatch.case_id).where(CaseMatch.bank == bank)))
        with self._sessions() as session:
            return session.scalar(query) or 0

    def queue_ids(self, status: str | None = "pending", bank: str | None = None, sort: str = "age") -> list[int]:
        """Case ids in queue order for this filter: ids only, so "next" is cheap with 10,000 open cases."""
        if sort not in SORTS:
            sort = "age"
        query = select(Case.id)
        if status is not None:
            query = query.where(Case.status.in_(STATUS_FILTERS.get(status, (status,))))
        if bank:
            query = query.where(Case.id.in_(select(CaseMatch.case_id).where(CaseMatch.bank == bank)))
        with self._sessions() as session:
            return list(session.scalars(query.order_by(*SORTS[sort])))

    def get_case(self, case_id: int) -> Case:
        with self._sessions() as session:
            case = session.scalar(
                select(Case).where(Case.id == case_id).options(selectinload(Case.matches), selectinload(Case.decisions))
            )
            if case is None:
                raise NotFound(f"no case {case_id}; see the queue (GET /api/v1/cases) for open cases")
            return case

    def _filtered(self, query, status: str | None, bank: str | None):
        if status is not None:
            query = query.where(Case.status.in_(STATUS_FILTERS.get(status, (status,))))
        if bank:
            query = query.where(Case.id.in_(select(CaseMatch.case_id).where(CaseMatch.bank == bank)))
        return query

    def neighbours(self, case_id: int, sort: str = "age", status: str | None = "pending", bank: str | None = None,
                   ids: list[int] | None = None) -> tuple[int | None, int | None]:
        """Previous and next case ids in the queue's own order and filter (for j / k and after a decision).

        Keyset queries from the case's own sort keys: a case that just left the filter (decided) keeps its
        place, so "next" is the case after it, not the head of the queue.
        """
        sort = sort if sort in SORT_KEYS else "age"
        keys = SORT_KEYS[sort]
        with self._sessions() as session:
            values = session.execute(select(*[col for col, _ in keys]).where(Case.id == case_id)).first()
            if values is None:
                first = session.scalar(self._filtered(select(Case.id), status, bank).order_by(*SORTS[sort]).limit(1))
                return None, first
            after = self._filtered(select(Case.id), status, bank).where(_beyond(keys, values, forward=True))
            before = self._filtered(select(Case.id), status, bank).where(_beyond(keys, values, forward=False))
            reverse = tuple(col.asc() if desc else col.desc() for col, desc in keys)
            return (session.scalar(before.order_by(*reverse).limit(1)),
                    session.scalar(after.order_by(*SORTS[sort]).limit(1)))

    def media_file(self, case_id: int) -> Path | None:
        """The kept preview of a case, if any and not past retention."""
        case = self.get_case(case_id)
        expires = aware(case.media_expires_at)
        if not case.media_path or (expires is not None and expires <= utcnow()):
            return None
        path = Path(case.media_path)
        return path if path.is_file() else None

    # -- claims -------------------------------------------------------------
    def claim(self, case_id: int, user: str, role: str | None = "reviewer") -> Case:
        """Take (or renew) the claim; Conflict if another reviewer holds an unexpired one.

        Viewing a case never calls this: a claim starts with "start reviewing" or the first action.
        """
        now = utcnow()
        until = now + timedelta(minutes=self._settings.review.claim_minutes)
        with self._sessions.begin() as session:
            case = self._case_for_update(session, case_id)
            self.check_may_decide(case, user, role)
            taken = session.execute(
                update(Case)
                .where(Case.id == case_id, or_(Case.claimed_by.is_(None), Case.claimed_by == user, Case.claimed_until < now))
                .values(claimed_by=user, claimed_until=until)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not taken:
                session.refresh(case)
                raise Conflict(self._held_message(case))
        return self.get_case(case_id)

    def release(self, case_id: int, user: str, force: bool = False) -> None:
        """Give the claim back; ``force`` (admins) releases someone else's claim."""
        with self._sessions.begin() as session:
            case = self._get(session, case_id)
            if case.claimed_by not in (None, user) and not force and self._claim_live(case):
                raise Conflict(self._held_message(case))
            case.claimed_by, case.claimed_until = None, None

    def start_next(self, user: str, role: str | None, sort: str = "age", status: str | None = "pending",
                   bank: str | None = None, after: int | None = None) -> int | None:
        """Claim the first case in the queue's order this user may decide; None when none is left."""
        sort = sort if sort in SORT_KEYS else "age"
        now = utcnow()
        free = or_(Case.claimed_by.is_(None), Case.claimed_by == user, Case.claimed_until < now)
        query = self._filtered(select(Case.id), status, bank).where(free, Case.status.in_(OPEN_STATUSES))
        tried: set[int] = set()
        for _ in range(10):  # a few batches: the first free case is almost always in the first
            with self._sessions() as session:
                batch = [i for i in session.scalars(query.order_by(*SORTS[sort]).limit(20 + len(tried))) if i not in tried]
            if not batch:
                return None
            for case_id in batch:
                tried.add(case_id)
                try:
                    self.claim(case_id, user, role)
                    return case_id
                except (Conflict, NotFound):
                    continue  # taken meanwhile, decided, or not for this user (their own escalation)
        return None

    def check_may_decide(self, case: Case, user: str, role: str | None) -> None:
        """Escalated cases go to senior reviewers, and never back to the reviewer who escalated them."""
        if case.status != "escalated":
            return
        escalator = next((d.actor for d in reversed(case.decisions) if d.decision == "escalate"), None)
        if escalator == user:
            raise Conflict(f"you escalated case {case.id}; another senior reviewer decides it (see the escalation queue)")
        if role not in SENIOR:
            raise Conflict(f"case {case.id} is escalated; a senior reviewer decides it")

    def reasons(self) -> dict[str, str]:
        return dict(self._settings.review.reasons)

    # -- decisions ----------------------------------------------------------
    def decide(
        self, case_id: int, user: str, decision: str, note: str = "", add_to_allow_bank: str | None = None,
        reason: str | None = None, role: str | None = "reviewer",
    ) -> Decision:
        if decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {sorted(DECISIONS)}, got {decision!r}")
        note = (note or "").strip()
        if len(note) > 5000:
            raise InvalidInput("the note is longer than 5000 characters; shorten it")
        if decision == "escalate" and not note:
            raise InvalidInput("escalating needs a reason: say in the note what a senior reviewer should look at")
        reason = (reason or "").strip() or None
        if reason is not None and reason not in self._settings.review.reasons:
            raise InvalidInput(f"unknown reason {reason!r}; choose one of {', '.join(self._settings.review.reasons)}")
        if reason is None and decision != "escalate" and self._settings.review.require_reason:
            raise InvalidInput(f"choose a reason for the decision (one of {', '.join(self._settings.review.reasons)})")
        if add_to_allow_bank:
            if decision != "reject":
                raise InvalidInput("only a rejected case (false positive) can be added to an allow bank")
            if self._banks.get_bank(add_to_allow_bank).kind != "allow":
                raise InvalidInput(f"bank {add_to_allow_bank!r} is a block bank; choose an allow bank")
        now = utcnow()
        # One transaction: the status, the decision, the allow-bank entry, the opinion counts,
        # the audit entry and the decision actions (the outbox) commit together or not at all.
        with self._sessions.begin() as session:
            case = self._case_for_update(session, case_id)
            self.check_may_decide(case, user, role)
            if case.claimed_by != user or not self._claim_live(case):
                if case.claimed_by not in (None, user) and self._claim_live(case):
                    raise Conflict(self._held_message(case))
                raise Conflict(f"claim case {case_id} before deciding it (open it in the queue, or POST /api/v1/cases/{case_id}/claim)")
            done = session.execute(
                update(Case)
                .where(Case.id == case_id, Case.claimed_by == user, Case.status.in_(OPEN_STATUSES))
                .values(status=DECISIONS[decision], claimed_by=None, claimed_until=None,
                        decided_at=now if decision != "escalate" else None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not done:
                raise Conflict(f"case {case_id} changed while deciding it; reload it and try again")
            row = Decision(case_id=case_id, decision=decision, actor=user, note=note, allow_bank=add_to_allow_bank or None,
                           reason=reason)
            session.add(row)
            session.flush()
            if add_to_allow_bank:
                # A proposal until a curator approves it, unless the organisation lets reviewers allow-list directly.
                direct = not self._settings.review.allow_needs_approval
                session.add(AllowProposal(case_id=case_id, bank=add_to_allow_bank, proposed_by=user, note=note,
                                          status="approved" if direct else "proposed",
                                          decided_by=user if direct else None, decided_at=now if direct else None))
                if direct:  # the allow-bank write first: it takes the bank write lock before any bank row is locked
                    self._add_to_allow_bank(case, add_to_allow_bank, user, note, session)
            if decision != "escalate":
                for item_id in sorted({m.bank_item_id for m in case.matches}):
                    try:
                        self._banks.record_opinion(item_id, decision == "confirm", session=session)
                    except NotFound:
                        pass  # the bank item was deleted after the case opened
            payload = decision_payload(case, decision, note, add_to_allow_bank, reason)
            if self._audit is not None:
                self._audit.record(user, f"case.{decision}", f"case:{case_id}", payload, session=session)
            if self._actions is not None:
                row.action_ids = list(self._actions.on_decision(case_id, decision, user, payload, session=session) or [])
        return row

    def reopen(self, case_id: int, user: str, role: str | None, note: str) -> Decision:
        """A senior reviewer reopens a decided case; the earlier decisions stay in its history and the audit."""
        if role not in SENIOR:
            raise Conflict("only a senior reviewer or an admin can reopen a decided case")
        note = (note or "").strip()
        if not note:
            raise InvalidInput("reopening needs a reason: say in the note why the decision is being looked at again")
        with self._sessions.begin() as session:
            case = self._get(session, case_id, with_matches=True)
            if case.status not in FINAL_STATUSES:
                raise Conflict(f"case {case_id} is {case.status}, not decided; there is nothing to reopen")
            before = case.status
            case.status, case.decided_at, case.claimed_by, case.claimed_until = "open", None, None, None
            row = Decision(case_id=case_id, decision="reopen", actor=user, note=note)
            session.add(row)
            if self._audit is not None:
                self._audit.record(user, "case.reopen", f"case:{case_id}", {"was": before, "note": note}, session=session)
        return row

    # -- allow-list proposals -------------------------------------------------
    def proposals(self, status: str | None = "proposed") -> list[AllowProposal]:
        query = select(AllowProposal).order_by(AllowProposal.id.desc()).limit(500)
        if status:
            query = query.where(AllowProposal.status == status)
        with self._sessions() as session:
            return list(session.scalars(query))

    def approve_proposal(self, proposal_id: int, curator: str) -> AllowProposal:
        """The curator's yes: the case's signals go into the allow bank (and start suppressing matches)."""
        with self._sessions.begin() as session:
            prop = self._proposal(session, proposal_id, "proposed")
            case = self._get(session, prop.case_id)
            self._add_to_allow_bank(case, prop.bank, prop.proposed_by, prop.note, session)
            prop.status, prop.decided_by, prop.decided_at = "approved", curator, utcnow()
            if self._audit is not None:
                self._audit.record(curator, "allow.approve", f"case:{prop.case_id}", {"bank": prop.bank, "proposal": prop.id}, session=session)
            return prop

    def decline_proposal(self, proposal_id: int, curator: str) -> AllowProposal:
        with self._sessions.begin() as session:
            prop = self._proposal(session, proposal_id, "proposed")
            prop.status, prop.decided_by, prop.decided_at = "declined", curator, utcnow()
            if self._audit is not None:
                self._audit.record(curator, "allow.decline", f"case:{prop.case_id}", {"bank": prop.bank, "proposal": prop.id}, session=session)
            return prop

    def undo_proposal(self, proposal_id: int, user: str) -> AllowProposal:
        """Take an approved allow entry back out of the allow bank (the case's decision stays)."""
        with self._sessions() as session:
            prop = self._proposal(session, proposal_id, "approved")
            bank, external_id = prop.bank, f"case-{prop.case_id}"
        try:
            self._banks.delete_item(bank, external_id)
        except NotFound:
            pass  # a curator removed it by hand already
        with self._sessions.begin() as session:
            prop = self._proposal(session, proposal_id, "approved")
            prop.status, prop.decided_by, prop.decided_at = "undone", user, utcnow()
            if self._audit is not None:
                self._audit.record(user, "allow.undo", f"case:{prop.case_id}", {"bank": bank, "proposal": prop.id}, session=session)
            return prop

    @staticmethod
    def _proposal(session: Session, proposal_id: int, status: str) -> AllowProposal:
        prop = session.get(AllowProposal, proposal_id)
        if prop is None:
            raise NotFound(f"no allow-list proposal {proposal_id}; see /allow-proposals")
        if prop.status != status:
            raise Conflict(f"allow-list proposal {proposal_id} is {prop.status}, not {status}; reload the page")
        return prop

    # -- reports and exposure ---------------------------------------------------
    def reason_counts(self) -> list[tuple[str, str | None, int]]:
        """(decision, reason, count) over all decisions, most frequent first."""
        query = (select(Decision.decision, Decision.reason, func.count())
                 .group_by(Decision.decision, Decision.reason).order_by(func.count().desc()))
        with self._sessions() as session:
            return [(d, r, n) for d, r, n in session.execute(query)]

    def decisions_for_export(self, limit: int = 100_000) -> list[tuple[Decision, Case]]:
        with self._sessions() as session:
            rows = session.execute(select(Decision, Case).join(Case, Case.id == Decision.case_id)
                                   .options(selectinload(Case.matches)).order_by(Decision.id).limit(limit))
            return [(d, c) for d, c in rows]

    def note_exposure(self, user: str, cases: int = 0, reveals: int = 0) -> int:
        """Count what a reviewer saw today; returns today's total (cases opened + reveals)."""
        day = utcnow().strftime("%Y-%m-%d")
        with self._sessions.begin() as session:
            row = session.get(ReviewerExposure, (user, day))
            if row is None:
                row = ReviewerExposure(username=user, day=day, cases=0, reveals=0)
                session.add(row)
            row.cases += cases
            row.reveals += reveals
            return row.cases + row.reveals

    def exposure(self, user: str) -> tuple[int, int]:
        with self._sessions() as session:
            row = session.get(ReviewerExposure, (user, utcnow().strftime("%Y-%m-%d")))
            return (row.cases, row.reveals) if row else (0, 0)

    def _add_to_allow_bank(self, case: Case, bank: str, user: str, note: str, session: Session) -> None:
        signals = bank_signals([Signal(s["type"], s["value"], s.get("quality"), s.get("meta") or {}) for s in case.signals])
        if not signals:
            raise InvalidInput(f"case {case.id} kept no signals, so nothing can be added to {bank!r}")
        labels = {"source": "review", "case": case.id, "added_by": user, **({"notes": note} if note else {})}
        self._banks.upsert_items(bank, [ItemUpsert(f"case-{case.id}", signals, labels, case.kind)], session=session)

    # -- preferences and retention --------------------------------------------
    def reveal_by_default(self, user: str) -> bool:
        with self._sessions() as session:
            pref = session.get(ReviewerPreference, user)
            return bool(pref and pref.reveal_media)

    def set_reveal_by_default(self, user: str, reveal: bool) -> None:
        with self._sessions.begin() as session:
            pref = session.get(ReviewerPreference, user)
            if pref is None:
                session.add(ReviewerPreference(username=user, reveal_media=reveal))
            else:
                pref.reveal_media = reveal

    def purge_expired_media(self, now: datetime | None = None) -> int:
        """Delete kept previews past media_expires_at; returns how many were removed."""
        return purge_expired(self._sessions, self._settings.home, now or utcnow())

    def delete_case(self, case_id: int) -> None:
        with self._sessions.begin() as session:
            case = self._get(session, case_id)
            if case.media_path:
                remove_preview(Path(case.media_path))
            session.execute(delete(Case).where(Case.id == case_id))

    def merge_into(self, session: Session, case: Case, into: int, actor: str, close: bool, why: str) -> None:
        """An undecided case joins case ``into`` (its matches already copied there by the caller): a note
        on the case, status ``merged`` when ``close`` (nothing else left to decide on it), an audit entry.
        The case is kept with its history, never deleted."""
        note = f"{why}: {'merged into' if close else 'its matches of this signal were copied to'} case {into}"
        case.warnings = [*(case.warnings or []), note]
        if close:
            case.status, case.claimed_by, case.claimed_until = MERGED, None, None
        if self._audit is not None:
            self._audit.record(actor, "case.merge" if close else "case.copy_matches", f"case:{case.id}",
                               {"into_case": into, "why": why, "status": case.status}, session=session)

    # -- internals ----------------------------------------------------------
    def _case_for_update(self, session, case_id: int) -> Case:
        case = self._get(session, case_id, with_matches=True)
        if case.status == MERGED:
            raise Conflict(f"case {case_id} was merged into another case ({(case.warnings or [''])[-1]}); decide that one")
        if case.status in FINAL_STATUSES:
            last = case.decisions[-1] if case.decisions else None
            who = f" by {last.actor} at {aware(last.created_at):%Y-%m-%d %H:%M} UTC" if last else ""
            raise Conflict(f"case {case_id} is already {case.status}{who}; open another case from the queue")
        return case

    @staticmethod
    def _get(session, case_id: int, with_matches: bool = False) -> Case:
        query = select(Case).where(Case.id == case_id)
        if with_matches:
            query = query.options(selectinload(Case.matches), selectinload(Case.decisions))
        case = session.scalar(query)
        if case is None:
            raise NotFound(f"no case {case_id}; see the queue (GET /api/v1/cases) for open cases")
        return case

    @classmethod
    def holder(cls, case: Case) -> str | None:
        """Who holds a live claim on the case, if anyone."""
        return case.claimed_by if cls._claim_live(case) else None

    @staticmethod
    def _claim_live(case: Case) -> bool:
        until = aware(case.claimed_until)
        return case.claimed_by is not None and until is not None and until > utcnow()

    @staticmethod
    def _held_message(case: Case) -> str:
        return (
            f"case {case.id} is being reviewed by {case.claimed_by} until {aware(case.claimed_until):%H:%M} UTC; "
            "pick another case or ask them to release it"
        )


def _beyond(keys, values, forward: bool):
    """Rows after (or before) ``values`` in the order of ``keys``: (k1 > v1) or (k1 = v1 and k2 > v2) or ..."""
    clauses = []
    for i, (col, desc) in enumerate(keys):
        later = (col < values[i]) if desc == forward else (col > values[i])
        clauses.append(and_(*[c == values[j] for j, (c, _) in enumerate(keys[:i])], later))
    return or_(*clauses)


def _write_preview(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:  # the case stands without its picture (media_file() then answers None)
        log.warning("could not keep the preview %s: %s", path, exc)
