"""Flood tables: one row per (bank signal, upload) match, and one per quarantine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossmatch.store.db import Base
from crossmatch.store.models import BigId, utcnow


class FloodHit(Base):
    """A bank signal (bank item + signal type) matched one upload; kept for the sliding windows."""

    __tablename__ = "flood_hits"
    __table_args__ = (
        UniqueConstraint("bank_item_id", "signal_type", "upload", name="uq_flood_hit_upload"),  # a rerun counts once
        Index("ix_flood_hits_signal_at", "bank_item_id", "signal_type", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_item_id: Mapped[int] = mapped_column(BigId)
    signal_type: Mapped[str] = mapped_column(String(40))
    upload: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FloodQuarantine(Base):
    """A bank signal held from cases and auto actions until a curator decides (release or disable)."""

    __tablename__ = "flood_quarantines"
    __table_args__ = (UniqueConstraint("bank_item_id", "signal_type", name="uq_flood_quarantine_signal"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_item_id: Mapped[int] = mapped_column(BigId)
    signal_type: Mapped[str] = mapped_column(String(40))
    bank: Mapped[str] = mapped_column(String(200))
    bank_item: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="quarantined")  # quarantined | released | disabled
    reason: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the one grouped case
    held: Mapped[int] = mapped_column(Integer, default=0)  # matches held since the quarantine began
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
