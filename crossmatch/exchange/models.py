"""Exchange tables: configured exchanges with their checkpoint, and per-item source mapping.

``exchange_items`` remembers, per exchange, which source record became which
bank item and with which labels, so removals at the source disable exactly the
items that came from it (and only when no other live source still vouches).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossmatch.store.db import Base
from crossmatch.store.models import BigId, utcnow


class Exchange(Base):
    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # file | pytx | stix
    bank_name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Seconds between scheduled syncs in the server; 0 = manual only.
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    # Opaque, source-specific; written only after the delta it follows is in the bank.
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Snapshot sources (whole-file reads) count runs so unseen items can be swept at the end.
    run: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExchangeItem(Base):
    __tablename__ = "exchange_items"
    __table_args__ = (
        UniqueConstraint("exchange_id", "source_key", name="uq_exchange_item_key"),
        Index("ix_exchange_items_external_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True)
    source_key: Mapped[str] = mapped_column(String(500))
    external_id: Mapped[str] = mapped_column(String(500))  # the bank item's id
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as the source sent them
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_run: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ExchangeFeedback(Base):
    """One reviewer verdict on one bank item pushed (or tried) upstream to the exchange it came from."""

    __tablename__ = "exchange_feedback"
    __table_args__ = (UniqueConstraint("exchange_id", "case_id", "bank_item", name="uq_exchange_feedback"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(BigId)
    bank_item: Mapped[str] = mapped_column(String(500))
    opinion: Mapped[str] = mapped_column(String(20))  # true_positive | false_positive
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))  # sent | unsupported | failed
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
