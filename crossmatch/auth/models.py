"""API tokens and web users.  Tokens are stored only as a SHA-256 hash, passwords as argon2 hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crossmatch.store.db import Base
from crossmatch.store.models import BigId, utcnow


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("uq_api_tokens_name", "name", unique=True),)  # unique since migration 0016

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings so people can tell tokens apart
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser session, so sign-out (and an admin) can end it before the cookie expires.

    The cookie carries a random session id; only its SHA-256 is stored, so a copy of the
    database does not let anyone sign in as the session's user.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignInFailure(Base):
    """One failed sign-in, counted under one throttle key (see crossmatch/auth/throttle.py).

    Shared by every server process through the store, so N processes do not give a guesser N
    times the limit.  The key is a SHA-256 of the account name and/or client address: the table
    says how often a key failed, never who or from where.
    """

    __tablename__ = "signin_failures"
    __table_args__ = (Index("ix_signin_failures_key_at", "key_hash", "at"), Index("ix_signin_failures_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)  # wall-clock seconds: comparable across processes and hosts
