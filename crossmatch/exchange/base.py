"""The exchange contract: sources are checkpointed generators (DESIGN.md example 3).

``Source.fetch(checkpoint)`` yields :class:`Delta` batches; each carries the
checkpoint to resume *after* it.  The sync service stores a delta in the bank
first and only then its checkpoint, so a crash in between replays the delta
(upserts are idempotent by item id) and never skips one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

from crossmatch.errors import CrossmatchError
from crossmatch.items import ItemError
from crossmatch.signals.base import Signal

Checkpoint = dict[str, Any]


class SourceError(CrossmatchError):
    """A source failed mid-sync (HTTP error, timeout, broken page); the sync can be rerun."""


@dataclass
class Update:
    """One record from a source: a bank item's signals and labels, or its removal.

    ``signals`` are ``(type, value)`` pairs as the source names them, or
    :class:`Signal` objects when quality and meta travel too (text chunks);
    the sync validates them, so one bad hash fails only its item.
    """

    key: str
    signals: list[tuple[str, str] | Signal] = field(default_factory=list)
    labels: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    # (confirmed, rejected) review counts, when the source shares opinions.
    opinions: tuple[int, int] | None = None
    content_kind: str | None = None
    # Bank item id to use; defaults to the source key.
    item_id: str | None = None
    enabled: bool = True


@dataclass
class Delta:
    updates: list[Update]
    checkpoint: Checkpoint | None
    errors: list[ItemError] = field(default_factory=list)


class Source(Protocol):
    """What every adapter provides.

    ``snapshot`` sources return their whole content on every run (a file, the
    static sample): after a complete run, items not seen in it are disabled.
    Incremental sources (ThreatExchange threat_updates, TCAP) send removals.
    """

    name: str

    def snapshot(self, checkpoint: Checkpoint | None) -> bool: ...

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]: ...
