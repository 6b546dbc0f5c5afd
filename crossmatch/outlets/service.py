"""OutletService: stores posts (signals + metadata), runs the tracker, announces what changed.

The in-memory :class:`~crossmatch.outlets.tracker.Tracker` is rebuilt from the
stored posts (in insertion order, so ids come out the same) whenever this
process has not seen all of them, e.g. after a restart or a rolled-back
transaction.  What was already announced is kept in ``outlet_accounts`` and
``outlets``, so a rebuild never sends an event twice.  Every announcement is
also an audit entry: the audit trail is the append-only history of accounts and
outlets (flags, detections, growth, merges, splits).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from crossmatch.actions.service import ActionService
from crossmatch.audit.service import AuditLog, as_utc
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.outlets.clusters import Rule, pdq_hamming
from crossmatch.outlets.models import CandidateItem, OutletAccount, OutletPost, OutletRow
from crossmatch.outlets.record import Post, PostMatch, classify, post_language
from crossmatch.outlets.source import link_domain, parse_source, pseudonym_key
from crossmatch.outlets.tracker import Changes, Tracker
from crossmatch.settings import Settings
from crossmatch.store.db import on_commit, transaction
from crossmatch.store.models import utcnow

ACTOR = "outlets"
CLUSTER_TYPES = ("pdq", "text_near")  # unbanked near-duplicates are grouped by these signal types
DECISIONS = ("accept", "reject")


def cluster_rules(registry: Any = None) -> dict[str, Rule]:
    """PDQ at its published 31 bits; text_near at its own threshold (estimated Jaccard)."""
    rules: dict[str, Rule] = {"pdq": (pdq_hamming, 31.0, "distance")}
    if registry is not None:
        try:
            from crossmatch.signals.base import Signal

            near = registry.get("text_near")
            rules["text_near"] = (lambda a, b: near.compare(Signal("text_near", a), Signal("text_near", b)),
                                  float(near.default_threshold), near.metric)
        except Exception:  # text_near not installed: images still cluster
            pass
    return rules


def unbanked_signals(signals: list[Any]) -> tuple[tuple[str, str], ...]:
    """One whole-content signal per clustering type (not query-only variants or regions)."""
    out: dict[str, str] = {}
    for s in signals:
        meta = s.meta or {}
        if s.type in CLUSTER_TYPES and s.type not in out and not meta.get("query_only") and "region" not in meta:
            out[s.type] = s.value
    return tuple(out.items())


def _epoch(value: datetime) -> float:
    return as_utc(value).timestamp()


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat() if t is not None else None


class OutletService:
    def __init__(self, sessions: sessionmaker, settings: Settings, actions: ActionService | None,
                 audit: AuditLog, banks: Any = None, registry: Any = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self._actions = actions
        self._audit = audit
        self._banks = banks
        self._registry = registry
        self._key: bytes | None = None
        self._lock = threading.RLock()
        self._tracker: Tracker | None = None
        self._last_id = 0  # the newest stored post the tracker has seen
        self._uncommitted = False  # the tracker holds a post whose transaction has not committed (yet)

    # -- sources ------------------------------------------------------------------
    def source_record(self, raw: Any) -> dict[str, Any] | None:
        """Checked and pseudonymised; never raises on bad fields (they become ``warnings``)."""
        if self._key is None:
            self._key = pseudonym_key(self.settings)
        source = parse_source(raw, self._key, self.settings.outlets.keep_handles)
        if source is None:
            return None
        return {**source.to_json(with_handle=source.handle is not None), "warnings": list(source.warnings)}

    # -- posts ----------------------------------------------------------------------
    def observe(self, raw_source: Any, result: Any, submission_id: int | None = None,
                session: Session | None = None) -> dict[str, Any] | None:
        """Record one scanned post (CLI and batch jobs); returns its source record (with warnings)."""
        record = self.source_record(raw_source)
        if record is not None:
            self.observe_record(record, result, submission_id, session)
        return record

    def observe_record(self, record: dict[str, Any], result: Any, submission_id: int | None = None,
                       session: Session | None = None) -> list[int]:
        """Store the post and feed the tracker, in the caller's transaction; returns the action ids queued."""
        if not self.settings.outlets.enabled:
            return []
        now = utcnow()
        posted = datetime.fromisoformat(record["posted_at"]) if record.get("posted_at") else now
        key = (f"{record['platform']}:{record['post_id']}" if record.get("platform") and record.get("post_id")
               else f"submission:{submission_id}" if submission_id is not None else f"item:{result.item}:{now.timestamp()}")
        matches = [PostMatch(m.bank_item_id, m.bank, m.signal_type, classify(m), m.item_labels or {},
                             mark=m.bank_kind == "mark" or bool((m.item_labels or {}).get("outlet_mark")))
                   for m in result.matches]
        # Only a post that was fully checked and matched nothing is "unbanked" material.
        unbanked = unbanked_signals(result.signals) if result.complete and not result.matches else ()
        links = tuple(record.get("links") or ())
        post = Post(key, record.get("account"), record.get("platform"), posted.timestamp(), tuple(matches), unbanked,
                    links, tuple(dict.fromkeys(d for d in map(link_domain, links) if d)), post_language(result.signals))
        with self._lock, transaction(self._sessions, session) as tx:
            if tx.scalar(select(OutletPost.id).where(OutletPost.post_key == key)) is not None:
                return []  # a rerun: neither duplicated nor dropped
            row = OutletPost(
                post_key=key, submission_id=submission_id, platform=post.platform, account=post.account,
                handle=record.get("handle"), post_id=record.get("post_id"), url=record.get("url"),
                parent=record.get("parent"), posted_at=posted, language=post.language, links=list(links),
                matches=[m.to_json() for m in matches], unbanked=[list(u) for u in unbanked],
                warnings=list(record.get("warnings") or []),
                expires_at=now + timedelta(days=self.settings.outlets.retention_days), created_at=now)
            tx.add(row)
            tx.flush()
            tracker = self._current(tx, before=row.id)
            self._uncommitted = True
            changes = tracker.observe(post)
            self._last_id = row.id

            def committed() -> None:
                self._uncommitted = False

            on_commit(tx, committed)
            return self._announce(changes, tx, submission_id)

    def _current(self, tx: Session, before: int | None = None) -> Tracker:
        """The tracker, brought up to every stored post (below ``before``) without announcing."""
        if self._tracker is None or self._uncommitted:
            self._tracker, self._last_id, self._uncommitted = self._new_tracker(), 0, False
        query = select(OutletPost).where(OutletPost.id > self._last_id).order_by(OutletPost.id)
        if before is not None:
            query = query.where(OutletPost.id < before)
        for row in tx.scalars(query):
            self._tracker.observe(self._post_of(row))
            self._last_id = row.id
        return self._tracker

    def _new_tracker(self) -> Tracker:
        return Tracker(self.settings.outlets, cluster_rules(self._registry))

    @staticmethod
    def _post_of(row: OutletPost) -> Post:
        links = tuple(row.links or ())
        return Post(row.post_key, row.account, row.platform, _epoch(row.posted_at),
                    tuple(PostMatch.from_json(m) for m in row.matches or []),
                    tuple((t, v) for t, v in row.unbanked or []), links,
                    tuple(dict.fromkeys(d for d in map(link_domain, links) if d)), row.language)

    def tracker(self) -> Tracker:
        with self._lock, self._sessions() as session:
            return self._current(session)

    # -- announcements --------------------------------------------------------------
    def _announce(self, changes: Changes, tx: Session, submission_id: int | None) -> list[int]:
        if not changes:
            return []
        ids: list[int] = []
        tracker = self._tracker
        for record in changes.flagged:
            row = tx.get(OutletAccount, record.account)
            if row is not None and row.flagged_at is not None:
                continue
            if row is None:
                row = OutletAccount(account=record.account, platform=record.platform)
                tx.add(row)
            row.flagged_at = datetime.fromtimestamp(record.flagged_at, tz=timezone.utc)
            row.flag_reason = record.flag_reason
            data = {"account": record.account, "platform": record.platform, "reason": record.flag_reason,
                    "record": record.to_json()}
            ids += self._emit("account.flagged", data, tx, submission_id)
        for change in changes.outlets:
            row = tx.get(OutletRow, change.outlet_id)
            now = utcnow()
            if change.kind in ("detected", "split"):
                if row is not None:
                    continue
                tx.add(OutletRow(id=change.outlet_id, status="active", members=change.members, detected_at=now, updated_at=now))
                tx.flush()
                ids += self._emit("outlet.detected", {**self.describe(change.outlet_id, tracker), "change": change.to_json()},
                                  tx, submission_id)
                continue
            if row is None:
                continue
            if change.kind == "dissolved":
                row.status, row.updated_at = "dissolved", now
                self._audit.record(ACTOR, "outlet.dissolved", f"outlet:{change.outlet_id}", change.to_json(), session=tx)
                continue
            if sorted(row.members or []) == change.members:
                continue
            row.members, row.updated_at = change.members, now
            for other in change.others if change.kind == "merged" else []:
                merged = tx.get(OutletRow, other)
                if merged is not None:
                    merged.status, merged.updated_at = "merged", now
            if change.added:
                ids += self._emit("outlet.grew", {**self.describe(change.outlet_id, tracker), "change": change.to_json()},
                                  tx, submission_id)
            else:
                self._audit.record(ACTOR, f"outlet.{change.kind}", f"outlet:{change.outlet_id}", change.to_json(), session=tx)
        for cid in changes.candidates:
            cluster = tracker.clusters.by_id[cid]
            key = f"{cluster.signal_type}:{cluster.value}"[:300]
            if tx.scalar(select(CandidateItem.id).where(CandidateItem.cluster_key == key)) is not None:
                continue
            row = CandidateItem(cluster_key=key, signal_type=cluster.signal_type, value=cluster.value, status="pending",
                                accounts=tracker.flagged_backers(cid), posts=list(cluster.posts), created_at=utcnow())
            tx.add(row)
            tx.flush()
            ids += self._emit("candidate.created", candidate_json(row), tx, submission_id)
        return ids

    def _emit(self, event: str, data: dict[str, Any], tx: Session, submission_id: int | None) -> list[int]:
        target = f"account:{data['account']}" if "account" in data else (
            f"outlet:{data['outlet_id']}" if "outlet_id" in data else f"candidate:{data.get('id')}")
        self._audit.record(ACTOR, event, target, data, session=tx)
        if self._actions is None:
            return []
        return self._actions.enqueue(event, data, submission_id, None, session=tx)

    # -- reading ----------------------------------------------------------------------
    def describe(self, outlet_id: int, tracker: Tracker | None = None) -> dict[str, Any]:
        """An outlet: its accounts across platforms, languages, entities, and a weekly timeline."""
        tracker = tracker or self.tracker()
        outlet = tracker.communities.outlets.get(outlet_id)
        if outlet is None:
            raise NotFound(f"no active outlet {outlet_id}; see GET /api/v1/outlets")
        records = [tracker.accounts[a] for a in sorted(outlet.members)]
        languages: dict[str, int] = {}
        entities: dict[str, int] = {}
        platforms: dict[str, int] = {}
        for r in records:
            for k, v in r.languages.items():
                languages[k] = languages.get(k, 0) + v
            for k, v in r.entities.items():
                entities[k] = entities.get(k, 0) + v
            platforms[r.platform or "unknown"] = platforms.get(r.platform or "unknown", 0) + 1
        return {"outlet_id": outlet.id, "accounts": [r.account for r in records], "platforms": platforms,
                "languages": languages, "entities": entities, "items": sorted({i for r in records for i in r.items}),
                "marks": sorted({m for r in records for m in r.marks}),
                "first_seen": _iso(min(r.first_seen for r in records)), "last_seen": _iso(max(r.last_seen for r in records)),
                "detected_at": _iso(outlet.detected_at)}

    def timeline(self, outlet_id: int) -> list[dict[str, Any]]:
        """Posts per ISO week and language by the outlet's accounts."""
        members = self.describe(outlet_id)["accounts"]
        with self._sessions() as session:
            rows = session.execute(select(OutletPost.posted_at, OutletPost.language)
                                   .where(OutletPost.account.in_(members))).all()
        counts: dict[tuple[str, str], int] = {}
        for at, lang in rows:
            year, week, _ = as_utc(at).isocalendar()
            key = (f"{year}-W{week:02d}", lang or "und")
            counts[key] = counts.get(key, 0) + 1
        return [{"week": w, "language": lang, "posts": n} for (w, lang), n in sorted(counts.items())]

    def outlets(self) -> list[dict[str, Any]]:
        tracker = self.tracker()
        return [self.describe(o, tracker) for o in sorted(tracker.communities.outlets)]

    def accounts(self, flagged_only: bool = True, limit: int = 100, with_handles: bool = False) -> list[dict[str, Any]]:
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        tracker = self.tracker()
        chosen = [r for r in tracker.accounts.values() if r.flagged_at is not None or not flagged_only]
        chosen.sort(key=lambda r: (-len(r.items), r.account))
        handles = self._handles([r.account for r in chosen[:limit]]) if with_handles else {}
        out = []
        for r in chosen[:limit]:
            data = {**r.to_json(), "outlet_id": tracker.communities.of_account.get(r.account)}
            if with_handles:
                data["handle"] = handles.get(r.account)
            out.append(data)
        return out

    def account(self, account: str, with_handles: bool = False) -> dict[str, Any]:
        tracker = self.tracker()
        record = tracker.accounts.get(account)
        if record is None:
            raise NotFound(f"no account {account!r}; see GET /api/v1/outlets/accounts")
        data = {**record.to_json(), "outlet_id": tracker.communities.of_account.get(account)}
        if with_handles:
            data["handle"] = self._handles([account]).get(account)
        return data

    def _handles(self, accounts: list[str]) -> dict[str, str]:
        with self._sessions() as session:
            rows = session.execute(select(OutletPost.account, OutletPost.handle)
                                   .where(OutletPost.account.in_(accounts), OutletPost.handle.is_not(None))).all()
        return {a: h for a, h in rows}

    # -- candidates ---------------------------------------------------------------------
    def candidates(self, status: str | None = "pending", limit: int = 100) -> list[dict[str, Any]]:
        query = select(CandidateItem).order_by(CandidateItem.id).limit(limit)
        if status:
            query = query.where(CandidateItem.status == status)
        with self._sessions() as session:
            return [candidate_json(row) for row in session.scalars(query)]

    def decide(self, candidate_id: int, decision: str, actor: str, bank: str | None = None,
               note: str | None = None) -> dict[str, Any]:
        """A curator's decision: ``accept`` adds the candidate's signal to ``bank``; ``reject`` closes it."""
        if decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        if decision == "accept" and not bank:
            raise InvalidInput("accepting a candidate needs the bank to add it to (bank=NAME)")
        from crossmatch.banks.upsert import ItemUpsert
        from crossmatch.signals.base import Signal

        with self._sessions.begin() as tx:
            row = tx.get(CandidateItem, candidate_id)
            if row is None:
                raise NotFound(f"no candidate {candidate_id}; see GET /api/v1/outlets/candidates")
            if row.status != "pending":
                raise Conflict(f"candidate {candidate_id} was already {row.status} by {row.decided_by}")
            row.status = "accepted" if decision == "accept" else "rejected"
            row.decided_by, row.decided_at, row.note = actor, utcnow(), note
            if decision == "accept":
                external = f"outlet-candidate-{candidate_id}"
                self._banks.upsert_items(bank, [ItemUpsert(external, [Signal(row.signal_type, row.value)],
                                                           {"source": "outlets", "candidate": candidate_id})], session=tx)
                row.bank, row.bank_item = bank, external
            out = candidate_json(row)
            self._audit.record(actor, f"candidate.{row.status}", f"candidate:{candidate_id}", out, session=tx)
        return out

    # -- retention ------------------------------------------------------------------------
    def purge_expired(self) -> int:
        """Delete posts past ``outlets.retention_days``; the tracker is rebuilt from what is left."""
        with self._lock, self._sessions.begin() as tx:
            gone = tx.execute(delete(OutletPost).where(OutletPost.expires_at < utcnow())).rowcount
            if gone:
                self._tracker = None
        return gone

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            return {"posts": session.scalar(select(func.count()).select_from(OutletPost)) or 0,
                    "flagged": session.scalar(select(func.count()).select_from(OutletAccount)
                                              .where(OutletAccount.flagged_at.is_not(None))) or 0,
                    "outlets": session.scalar(select(func.count()).select_from(OutletRow)
                                              .where(OutletRow.status == "active")) or 0,
                    "candidates": session.scalar(select(func.count()).select_from(CandidateItem)
                                                 .where(CandidateItem.status == "pending")) or 0}


def candidate_json(row: CandidateItem) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "signal_type": row.signal_type, "value": row.value,
            "accounts": row.accounts, "posts": row.posts, "created_at": as_utc(row.created_at).isoformat(),
            "decided_by": row.decided_by, "decided_at": as_utc(row.decided_at).isoformat() if row.decided_at else None,
            "bank": row.bank, "bank_item": row.bank_item, "note": row.note}
