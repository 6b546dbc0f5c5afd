"""Review tables: cases, their matches, decisions, and reviewer preferences.

A case is one scanned piece of content with at least one block match.  The
claim (who is looking at it, until when) lives on the case row so that taking
it is one conditional UPDATE: two reviewers can never both win.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crossmatch.store.db import Base
from crossmatch.store.models import BigId, utcnow  # noqa: F401  (utcnow: used by review code)

def aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


OPEN_STATUSES = ("open", "escalated")
FINAL_STATUSES = ("confirmed", "rejected")
MERGED = "merged"  # folded, undecided, into another case (a flood's grouped case); kept, never deleted


class Case(Base):
    __tablename__ = "review_cases"
    # The queue's default order within a status: 10,000 open cases page and step ("next") without a sort.
    __table_args__ = (Index("ix_review_cases_status_created", "status", "created_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # open | escalated (still decidable) | confirmed | rejected (final) | merged (into another case)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    item: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(12))
    submission_id: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    source: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Sort keys, denormalised from the matches when the case is opened.
    severity: Mapped[int] = mapped_column(Integer, default=0)
    strength: Mapped[float] = mapped_column(Float, default=0.0)
    bank: Mapped[str] = mapped_column(String(200), index=True)
    bank_labels: Mapped[str] = mapped_column(String(500), default="")
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The query's signals (kept so a rejected item can go to an allow bank in one click).
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Opt-in media retention: a downscaled preview, purged after media_expires_at.
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    matches: Mapped[list["CaseMatch"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True, order_by="CaseMatch.id"
    )
    decisions: Mapped[list["Decision"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True, order_by="Decision.id"
    )


class CaseMatch(Base):
    """One match of the case's content against a bank item, with its evidence."""

    __tablename__ = "review_case_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    bank: Mapped[str] = mapped_column(String(200))
    bank_kind: Mapped[str] = mapped_column(String(10))
    # No foreign key: the bank item may be deleted later; the case keeps what it matched.
    bank_item_id: Mapped[int] = mapped_column(Integer, index=True)
    bank_item: Mapped[str] = mapped_column(String(500))
    item_labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signal_type: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[float] = mapped_column(Float)
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    strength: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="matches")


class Decision(Base):
    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(12))  # confirm | reject | escalate | reopen
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    allow_bank: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A policy code from settings.review.reasons (news reporting, counter-speech, ...), counted in reports.
    reason: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    action_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="decisions")


class ReviewerPreference(Base):
    """Per-reviewer settings; media stays blurred unless a reviewer opts out."""

    __tablename__ = "review_preferences"

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    reveal_media: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AllowProposal(Base):
    """A reviewer's proposal to allow-list a rejected case; it suppresses nothing until a curator approves.

    proposed -> approved (the allow-bank entry exists) -> undone (entry removed); or proposed -> declined.
    """

    __tablename__ = "review_allow_proposals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    bank: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="proposed", index=True)
    proposed_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewerExposure(Base):
    """How much a reviewer saw on one day (UTC): cases opened and media revealed, for the break prompt."""

    __tablename__ = "review_exposure"

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    cases: Mapped[int] = mapped_column(Integer, default=0)
    reveals: Mapped[int] = mapped_column(Integer, default=0)
