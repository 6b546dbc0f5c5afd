"""Tables of the scale-out area: finished backfill partitions, and leases on shared work.

A backfill partition's row commits in the same transaction as the cases and
actions its matches made, so a rerun that skips finished partitions neither
loses nor duplicates anything.  A lease names who may do a piece of shared work
(e.g. build the ``pdq`` index snapshot) until when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crossmatch.store.db import Base
from crossmatch.store.models import utcnow


class BackfillPartition(Base):
    __tablename__ = "backfill_partitions"

    run: Mapped[str] = mapped_column(String(200), primary_key=True)  # the run's key: source and output folder
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    items: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    until: Mapped[float] = mapped_column(Float)
