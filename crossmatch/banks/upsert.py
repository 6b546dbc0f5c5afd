"""Bank item upserts at the SQLAlchemy Core level: items, their signals and change log rows.

Imports of million-row hash lists spend most of their time here, so this is written
with multi-row statements; the ORM's per-object bookkeeping costs several times more.
:class:`crossmatch.banks.service.BankService` validates, locks and calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from crossmatch.signals.base import Signal
from crossmatch.store.models import BankItem, SignalChange, SignalRow, utcnow


@dataclass
class ItemUpsert:
    """One bank item as an importer or the API hands it in."""

    external_id: str
    signals: list[Signal]
    labels: dict[str, Any] = field(default_factory=dict)
    content_kind: str | None = None
    # A source can only disable: False disables the item; True never re-enables an item
    # that a curator (or the source) disabled earlier.
    enabled: bool = True
    # (confirmed, rejected) counts a source shares with the item; None keeps the stored ones.
    opinions: tuple[int, int] | None = None


def _signal_key(signal: Signal) -> tuple[str, str, str]:
    return (signal.type, signal.value, str(sorted((signal.meta or {}).items())))


def upsert_rows(conn: Connection, bank_id: int, items: Sequence[ItemUpsert]) -> list[str]:
    """Write one batch of (already validated, distinct) items; 'added' / 'updated' / 'unchanged' per item.

    The caller holds the bank write lock, so what is read here is still true when written.
    """
    items_t, signals_t, changes_t = BankItem.__table__, SignalRow.__table__, SignalChange.__table__
    existing = {
        row.external_id: row
        for row in conn.execute(
            select(items_t.c.id, items_t.c.external_id, items_t.c.labels, items_t.c.enabled,
                   items_t.c.confirmed_count, items_t.c.rejected_count)
            .where(items_t.c.bank_id == bank_id, items_t.c.external_id.in_([it.external_id for it in items]))
        )
    }
    old_signals: dict[int, list] = {}
    if existing:
        query = select(signals_t.c.id, signals_t.c.item_id, signals_t.c.type, signals_t.c.value, signals_t.c.quality, signals_t.c.meta)
        for row in conn.execute(query.where(signals_t.c.item_id.in_([r.id for r in existing.values()]))):
            old_signals.setdefault(row.item_id, []).append(row)
    fresh = [item for item in items if item.external_id not in existing]
    new_ids: dict[str, int] = {}
    if fresh:
        now = utcnow()
        rows = [
            {"bank_id": bank_id, "external_id": it.external_id, "labels": it.labels, "content_kind": it.content_kind,
             "enabled": it.enabled, "confirmed_count": (it.opinions or (0, 0))[0],
             "rejected_count": (it.opinions or (0, 0))[1], "created_at": now, "updated_at": now}
            for it in fresh
        ]
        new_ids = dict(conn.execute(insert(items_t).returning(items_t.c.external_id, items_t.c.id), rows).all())
    statuses: list[str] = []
    new_rows: list[dict[str, Any]] = []
    removed: list[tuple[int, str]] = []
    changed_items: list[dict[str, Any]] = []
    for item in items:
        if item.external_id in new_ids:
            status, item_id, keep = "added", new_ids[item.external_id], set()
        else:
            row = existing[item.external_id]
            status, item_id, keep = "unchanged", row.id, set()
            wanted_row = {
                "b_labels": item.labels if item.labels else row.labels,
                "b_enabled": row.enabled and item.enabled,  # a source can only disable
                "b_confirmed": item.opinions[0] if item.opinions is not None else row.confirmed_count,
                "b_rejected": item.opinions[1] if item.opinions is not None else row.rejected_count,
            }
            if wanted_row != {"b_labels": row.labels, "b_enabled": row.enabled,
                              "b_confirmed": row.confirmed_count, "b_rejected": row.rejected_count}:
                changed_items.append({"b_id": row.id, **wanted_row})
                status = "updated"
            wanted = {_signal_key(s) for s in item.signals}
            for old in old_signals.get(row.id, []):
                key = _signal_key(Signal(old.type, old.value, old.quality, old.meta or {}))
                if key in wanted and key not in keep:
                    keep.add(key)
                else:
                    removed.append((old.id, old.type))
                    status = "updated"
        for signal in item.signals:
            key = _signal_key(signal)
            if key in keep:
                continue
            keep.add(key)
            new_rows.append({"item_id": item_id, "type": signal.type, "value": signal.value, "quality": signal.quality, "meta": signal.meta or {}})
            if status == "unchanged":
                status = "updated"
        statuses.append(status)
    if changed_items:
        conn.execute(
            update(items_t)
            .where(items_t.c.id == bindparam("b_id"))
            .values(labels=bindparam("b_labels"), enabled=bindparam("b_enabled"), confirmed_count=bindparam("b_confirmed"),
                    rejected_count=bindparam("b_rejected"), updated_at=utcnow()),
            changed_items,
        )
    if removed:
        conn.execute(delete(signals_t).where(signals_t.c.id.in_([sid for sid, _ in removed])))
        conn.execute(insert(changes_t), [{"signal_id": sid, "type": t, "op": "remove"} for sid, t in removed])
    if new_rows:
        inserted = conn.execute(insert(signals_t).returning(signals_t.c.id, signals_t.c.type), new_rows).all()
        conn.execute(insert(changes_t), [{"signal_id": sid, "type": t, "op": "add"} for sid, t in inserted])
    return statuses
