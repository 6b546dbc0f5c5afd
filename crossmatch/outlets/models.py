"""Outlet tables: posts as signals + metadata (with retention), and the state already announced.

Accounts and outlets are kept as the last state told to webhooks and the audit
trail (so a restart never announces them twice); their history is the audit
trail itself, which is append-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crossmatch.store.db import Base
from crossmatch.store.models import BigId, utcnow


class OutletPost(Base):
    __tablename__ = "outlet_posts"
    __table_args__ = (Index("ix_outlet_posts_account", "account"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_key: Mapped[str] = mapped_column(String(400), unique=True)  # platform:post_id, else the submission
    submission_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    platform: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account: Mapped[str | None] = mapped_column(String(40), nullable=True)  # pseudonymised
    handle: Mapped[str | None] = mapped_column(String(300), nullable=True)  # only with outlets.keep_handles
    post_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    parent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    unbanked: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [type, value] of unmatched posts
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class OutletAccount(Base):
    __tablename__ = "outlet_accounts"

    account: Mapped[str] = mapped_column(String(40), primary_key=True)
    platform: Mapped[str | None] = mapped_column(String(40), nullable=True)
    handle: Mapped[str | None] = mapped_column(String(300), nullable=True)
    flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    flag_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutletRow(Base):
    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | merged | dissolved
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CandidateItem(Base):
    __tablename__ = "outlet_candidates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cluster_key: Mapped[str] = mapped_column(String(300), unique=True)  # signal type:founding value
    signal_type: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending|accepted|rejected
    accounts: Mapped[list[str]] = mapped_column(JSON, default=list)
    posts: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    bank: Mapped[str | None] = mapped_column(String(200), nullable=True)
    bank_item: Mapped[str | None] = mapped_column(String(300), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
