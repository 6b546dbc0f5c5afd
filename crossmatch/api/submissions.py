"""Asynchronous submissions: stored as a row (queued), scanned by a worker thread.

The content waits in a spool file until scanned, then is deleted unless
``settings.keep_media`` (then it expires after ``media_retention_days``).
A worker holds a short lease on the submission it scans and renews it while the
scan runs, so a submission left half-scanned by a dead worker is taken up again
within about a minute.  The case, its actions and the submission's result commit
in one transaction, and only while the worker still holds the lease, so a rerun
never opens a second case or sends a second set of webhooks.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, String, Text, UniqueConstraint, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from crossmatch.audit.service import as_utc
from crossmatch.items import sniff_kind
from crossmatch.errors import InvalidInput, NotFound
from crossmatch.settings import Settings
from crossmatch.signals.base import Content
from crossmatch.store.db import Base, on_commit
from crossmatch.store.models import BigId, utcnow

if TYPE_CHECKING:  # the Submission table is imported by every store command (all_models): keep numpy,
    from crossmatch.actions.service import ActionService  # the engine and its indices out of that path
    from crossmatch.engine import Engine, ScanResult

log = logging.getLogger(__name__)
LEASE_S = 45.0  # a lease not renewed for this long belongs to a dead worker; another takes the submission
RENEW_S = 10.0  # how often a scanning worker renews its lease
MAX_FIELD = 200  # owner, idempotency key and source columns are VARCHAR(200)


class LeaseLost(Exception):
    """Another worker took the submission (this one stalled past its lease); its result is dropped."""


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key", name="uq_submission_idempotency"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Who posted it (outlets): parsed and pseudonymised at submit time, with its warnings.
    source_record: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    item: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)  # queued|scanning|done|failed
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Who holds the lease: only that worker may record the result (see LeaseLost).
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    spool_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    case_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    action_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def submission_json(row: Submission) -> dict[str, Any]:
    return {
        "id": row.id, "status": row.status, "item": row.item, "kind": row.kind, "source": row.source,
        "source_record": _public(row.source_record),
        "idempotency_key": row.idempotency_key, "result": row.result, "case_id": row.case_id,
        "action_ids": row.action_ids or [], "error": row.error, "created_at": as_utc(row.created_at).isoformat(),
        "finished_at": as_utc(row.finished_at).isoformat() if row.finished_at else None,
    }


class SubmissionService:
    def __init__(self, sessions: sessionmaker, settings: Settings, engine: Engine,
                 actions: ActionService, review: Any = None, outlets: Any = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self._engine = engine
        self._actions = actions
        self.review = review  # ReviewService once the review domain is wired in (open_case)
        self.outlets = outlets  # OutletService: who posted it, accounts and outlets
        self.spool = settings.home / "spool"
        self.wakeup = threading.Event()
        # With scale.queue = "nats": announces each new submission on the JetStream work queue.
        self.publisher: Any = None

    def submit(self, owner: str, content: Content, idempotency_key: str | None,
               source: str | dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        """(the submission, True if new).  The same key from the same owner returns the first one.

        ``source`` as an object says who posted it (outlets): it is checked and pseudonymised
        now, so a raw handle is never stored unless the deployment keeps handles."""
        record = None
        if isinstance(source, dict):
            record = self.outlets.source_record(source) if self.outlets is not None else None
            source = (record or {}).get("platform")
        for name, value in (("owner", owner), ("idempotency key", idempotency_key), ("source", source)):
            if value is not None and len(value) > MAX_FIELD:
                raise InvalidInput(f"the {name} of {content.item[:80]!r} is {len(value)} characters; "
                                   f"at most {MAX_FIELD} are allowed, so shorten it and submit again")
        if idempotency_key:
            existing = self._by_key(owner, idempotency_key)
            if existing is not None:
                return existing, False
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / uuid.uuid4().hex
        try:
            path.write_bytes(_spool_bytes(content))
            with self._sessions.begin() as session:
                row = Submission(owner=owner, idempotency_key=idempotency_key, source=source, source_record=record,
                                 item=content.item[:500],
                                 kind=content.kind, status="queued", spool_path=str(path), action_ids=[])
                session.add(row)
                session.flush()
                out = submission_json(row)
        except IntegrityError:  # a concurrent request with the same key won the race
            path.unlink(missing_ok=True)
            existing = self._by_key(owner, idempotency_key or "")
            if existing is None:
                raise
            return existing, False
        except BaseException:  # no row points at the spool file: never leave it behind
            path.unlink(missing_ok=True)
            raise
        self.wakeup.set()
        if self.publisher is not None:
            # The row is committed first: a failed publish leaves it queued, and the stream
            # worker's sweep publishes it again (crossmatch/scale/stream.py).
            self.publisher.publish(out["id"])
        return out, True

    def get(self, submission_id: int, owner: str | None = None) -> dict[str, Any]:
        with self._sessions() as session:
            row = session.get(Submission, submission_id)
        if row is None or (owner is not None and row.owner != owner):
            raise NotFound(f"no submission {submission_id} for this caller; submit content with POST /api/v1/submissions")
        return submission_json(row)

    def _by_key(self, owner: str, key: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.scalar(select(Submission).where(Submission.owner == owner, Submission.idempotency_key == key))
            return submission_json(row) if row is not None else None

    # -- worker -----------------------------------------------------------------
    def process_next(self) -> bool:
        """Scan one queued submission (or one whose worker died); False when there is none."""
        self.purge_expired()
        if self.review is not None:
            self.review.purge_expired_media()  # case previews follow the same retention
        now = time.time()
        with self._sessions() as session:
            candidates = list(session.scalars(
                select(Submission.id).where(or_(Submission.status == "queued",
                                                (Submission.status == "scanning") & (Submission.lease_until < now)))
                .order_by(Submission.id).limit(5)
            ))
        for submission_id in candidates:
            token = uuid.uuid4().hex
            with self._sessions.begin() as session:
                taken = session.execute(
                    update(Submission).where(Submission.id == submission_id,
                                             or_(Submission.status == "queued", Submission.lease_until < now))
                    .values(status="scanning", lease_until=now + LEASE_S, lease_token=token)
                ).rowcount
            if taken == 1:
                self._process(submission_id, token)
                return True
        return False

    def process_id(self, submission_id: int, take_over: bool = False) -> str:
        """Scan this submission if it still needs it (the JetStream worker's entry point).

        Returns "scanned", "finished" (already done or failed: nothing to do), "busy"
        (another worker holds a live lease) or "missing".  ``take_over``: the queue
        redelivered the item because its last worker went silent, so its lease is taken
        over at once; should that worker still be alive, its result is dropped (LeaseLost).
        """
        now = time.time()
        token = uuid.uuid4().hex
        claimable = or_(Submission.status == "queued", (Submission.status == "scanning") & (Submission.lease_until < now))
        if take_over:
            claimable = Submission.status.in_(("queued", "scanning"))
        with self._sessions.begin() as session:
            taken = session.execute(
                update(Submission).where(Submission.id == submission_id, claimable)
                .values(status="scanning", lease_until=now + LEASE_S, lease_token=token)
            ).rowcount
            if not taken:
                status = session.scalar(select(Submission.status).where(Submission.id == submission_id))
        if taken:
            self._process(submission_id, token)
            return "scanned"
        if status is None:
            return "missing"
        return "busy" if status == "scanning" else "finished"

    def fail(self, submission_id: int, error: str) -> bool:
        """Mark a submission that will not be scanned as failed (fail closed: never reported clean)."""
        with self._sessions.begin() as session:
            return bool(session.execute(
                update(Submission).where(Submission.id == submission_id, Submission.status.in_(("queued", "scanning")))
                .values(status="failed", error=error, finished_at=utcnow(), lease_until=None, lease_token=None)
            ).rowcount)

    def queued_before(self, cutoff: datetime, limit: int = 1000) -> list[int]:
        """Submissions still queued that were created before ``cutoff`` (to publish again)."""
        with self._sessions() as session:
            return list(session.scalars(select(Submission.id).where(Submission.status == "queued", Submission.created_at < cutoff)
                                        .order_by(Submission.id).limit(limit)))

    def _process(self, submission_id: int, token: str) -> None:
        with self._sessions() as session:
            row = session.get(Submission, submission_id)
        with _LeaseKeeper(self._sessions, submission_id, token):
            try:
                content = _load(row)
                outcome: ScanResult | str = self._engine.scan(content)  # no lock: see crossmatch/engine.py
            except (OSError, UnicodeDecodeError) as exc:
                content, outcome = None, f"cannot read the submitted content: {exc}"
            except Exception as exc:  # one bad item must not wedge the queue; the log has the traceback
                log.exception("submission %s failed", submission_id)
                content, outcome = None, f"scan failed ({type(exc).__name__}: {exc}); resubmit or report this"
        try:
            kept = self._record(row, token, content, outcome)
        except Exception as exc:  # the case or its actions could not be written: fail closed, visibly
            log.exception("submission %s: recording the result failed", submission_id)
            kept = self._record(row, token, None, f"recording the result failed ({type(exc).__name__}: {exc}); resubmit or report this")
        if not kept:
            log.warning("submission %s: the lease passed to another worker; this worker's result is dropped", submission_id)

    def _record(self, row: Submission, token: str, content: Content | None, outcome: ScanResult | str) -> bool:
        """The case, its actions and the submission's result in one transaction, only under our lease.

        False (and nothing written) when another worker has taken the submission meanwhile.
        """
        try:
            self._record_in(row, token, content, outcome)
            return True
        except LeaseLost:
            return False

    def _record_in(self, row: Submission, token: str, content: Content | None, outcome: ScanResult | str) -> None:
        with self._sessions.begin() as session:
            if isinstance(outcome, str):  # the scan itself failed: an unchecked item, never a clean one
                from crossmatch.engine import ScanResult

                outcome = ScanResult(row.item, row.kind, error=outcome)
            case_id = None
            if self.review is not None and self.settings.flood.enabled:
                # Matches of a flooding bank signal go to its one grouped case, with no auto action.
                from crossmatch.flood.guard import FloodGuard

                outcome = FloodGuard(self.settings.flood, self._actions, self.review).screen(
                    outcome, f"submission:{row.id}", content, session)
            # Fail closed: an item not fully checked goes to a reviewer (limits.on_incomplete), like a match.
            unchecked = not outcome.complete and self.settings.limits.on_incomplete == "review"
            if self.review is not None and (self._actions.wants_review(outcome) or unchecked):
                case_id = self.review.open_case(outcome, content, str(row.id), row.source, session=session)
            action_ids = self._actions.on_scan(outcome, row.id, case_id, session=session)
            if self.outlets is not None and row.source_record is not None and outcome.error is None:
                action_ids += self.outlets.observe_record(row.source_record, outcome, row.id, session=session)
            values: dict[str, Any] = {"status": "failed" if outcome.error else "done", "result": outcome.to_json(),
                                      "case_id": case_id, "action_ids": action_ids, "error": outcome.error}
            values.update(finished_at=utcnow(), lease_until=None, lease_token=None)
            if self.settings.keep_media and row.spool_path:
                values["media_expires_at"] = utcnow() + timedelta(days=self.settings.media_retention_days)
            else:
                values["spool_path"] = None
                if row.spool_path:  # deleted only once the result is stored; a crash before keeps it for the rerun
                    on_commit(session, lambda: Path(row.spool_path).unlink(missing_ok=True))
            done = session.execute(
                update(Submission).where(Submission.id == row.id, Submission.status == "scanning",
                                         Submission.lease_token == token).values(**values)
            ).rowcount
            if not done:
                raise LeaseLost(row.id)  # rolls the case and the actions back with it

    def purge_expired(self) -> int:
        """Delete kept media whose retention has passed."""
        with self._sessions() as session:
            rows = session.execute(
                select(Submission.id, Submission.spool_path)
                .where(Submission.media_expires_at.is_not(None), Submission.media_expires_at < utcnow())
            ).all()
        for submission_id, path in rows:
            if path:
                Path(path).unlink(missing_ok=True)
            with self._sessions.begin() as session:
                session.execute(update(Submission).where(Submission.id == submission_id)
                                .values(spool_path=None, media_expires_at=None))
        return len(rows)


def _public(record: dict[str, Any] | None) -> dict[str, Any] | None:
    # A kept raw handle is for analysts (GET /api/v1/outlets/accounts), not for submission results.
    return None if record is None else {k: v for k, v in record.items() if k != "handle"}


def _spool_bytes(content: Content) -> bytes:
    if content.kind == "text":
        return (content.text or "").encode("utf-8")
    if content.kind == "url":
        return (content.url or "").encode("utf-8")
    return content.data or b""


def _load(row: Submission) -> Content:
    if not row.spool_path:
        raise OSError("the content is gone (deleted after scanning or by retention)")
    data = Path(row.spool_path).read_bytes()
    if row.kind == "text":
        return Content(row.item, "text", text=data.decode("utf-8"))
    if row.kind == "url":
        return Content(row.item, "url", url=data.decode("utf-8"))
    return Content(row.item, sniff_kind(data, row.item), data=data)


class _LeaseKeeper:
    """Renews a submission's lease every RENEW_S while its scan runs (OCR or a long video
    can take minutes), so a short lease only ever expires for a worker that has died."""

    def __init__(self, sessions: sessionmaker, submission_id: int, token: str) -> None:
        self._sessions = sessions
        self._id = submission_id
        self._token = token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"crossmatch-lease-{submission_id}", daemon=True)

    def __enter__(self) -> "_LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(RENEW_S):
            try:
                with self._sessions.begin() as session:
                    session.execute(update(Submission).where(Submission.id == self._id, Submission.lease_token == self._token)
                                    .values(lease_until=time.time() + LEASE_S))
            except Exception:  # a database hiccup: try again at the next beat (the lease has slack)
                log.exception("submission %s: renewing the lease failed", self._id)
