"""Core tables: banks, bank items, their signals, and the signal change log.

Signals, not media, are what is kept.  ``signal_changes`` is an append-only log
that lets every process (CLI, server workers) bring its in-memory indices up to
date incrementally instead of rebuilding them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crossmatch.store.db import Base

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big banks.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="block")  # block | allow
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Per-signal-type thresholds, e.g. {"pdq": 31, "text_xling": 1.07}; missing types use the type default.
    thresholds: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    # Bank options such as {"ocr": true}.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    items: Mapped[list["BankItem"]] = relationship(back_populates="bank", cascade="all, delete-orphan", passive_deletes=True)


class BankItem(Base):
    __tablename__ = "bank_items"
    __table_args__ = (UniqueConstraint("bank_id", "external_id", name="uq_bank_item_external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(500))
    # entity, outlet, category, language, source, first_seen, notes, and any extra keys.
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    content_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Opinions fed back from reviews.
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    # Opt-in media retention: where a copy is kept and when it must be purged.
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    bank: Mapped[Bank] = relationship(back_populates="items")
    signals: Mapped[list["SignalRow"]] = relationship(back_populates="item", cascade="all, delete-orphan", passive_deletes=True)


class SignalRow(Base):
    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_type_id", "type", "id"),)  # migration 0010

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("bank_items.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    item: Mapped[BankItem] = relationship(back_populates="signals")


class SignalChange(Base):
    """Append-only: one row per signal added to or removed from the bank signals."""

    __tablename__ = "signal_changes"
    __table_args__ = (Index("ix_signal_changes_type_seq", "type", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    signal_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    op: Mapped[str] = mapped_column(String(6))  # add | remove
