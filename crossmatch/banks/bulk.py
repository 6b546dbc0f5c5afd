"""Bulk load of hash lists: a staging table and set-based statements, in one transaction.

A million-row list through :func:`crossmatch.banks.upsert.upsert_rows` costs a statement
round trip per batch of 500 and Python work per row; here each chunk of items is copied
into a temporary staging table (PostgreSQL ``COPY``; SQLite ``executemany``), and three
set-based statements add the new items, their signals and their change-log rows. Items
already in the bank whose signals and labels are unchanged are skipped; changed ones go
through ``upsert_rows`` (its exact semantics: a source only disables, signals replaced).
The whole load is one transaction under the bank write lock, so readers see it at once and
the serving index takes it as one batch append of the change log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from sqlalchemy import Connection, bindparam, text

from crossmatch.banks.upsert import ItemUpsert, upsert_rows
from crossmatch.store.models import BankItem, utcnow

CHUNK = 50_000
STAGE = "cm_bulk_stage"
COLUMNS = ("external_id", "is_first", "labels", "kind", "enabled", "confirmed", "rejected", "type", "value", "quality", "meta")


@dataclass
class BulkCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    statuses: list[str] = field(default_factory=list)


def chunks(items: Iterable[ItemUpsert], size: int = CHUNK) -> Iterator[list[ItemUpsert]]:
    """Chunks of distinct items; the same id twice in a list merges its signals (as the importer does)."""
    batch: dict[str, ItemUpsert] = {}
    for item in items:
        if item.external_id in batch:
            batch[item.external_id].signals.extend(item.signals)
            continue
        batch[item.external_id] = item
        if len(batch) >= size:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


def _create_stage(conn: Connection) -> None:
    big_text = "TEXT"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {STAGE} (external_id {big_text} NOT NULL, is_first INTEGER NOT NULL, labels {big_text}, "
        f"kind {big_text}, enabled INTEGER NOT NULL, confirmed INTEGER NOT NULL, rejected INTEGER NOT NULL, type {big_text} NOT NULL, value {big_text} NOT NULL, quality REAL, meta {big_text})"
    )
    conn.exec_driver_sql(f"CREATE INDEX {STAGE}_ext ON {STAGE} (external_id)")


def _stage_rows(items: list[ItemUpsert]) -> Iterator[tuple]:
    for item in items:
        labels = json.dumps(item.labels or {}, separators=(",", ":"))
        confirmed, rejected = item.opinions or (0, 0)
        for n, s in enumerate(item.signals):
            yield (item.external_id, 1 if n == 0 else 0, labels if n == 0 else None, item.content_kind,
                   1 if item.enabled else 0, confirmed, rejected, s.type, s.value, s.quality, json.dumps(s.meta or {}, separators=(",", ":")))


def _load_stage(conn: Connection, items: list[ItemUpsert]) -> None:
    conn.exec_driver_sql(f"DELETE FROM {STAGE}")
    rows = _stage_rows(items)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(f"INSERT INTO {STAGE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", list(rows))


def _existing(conn: Connection, bank_id: int) -> dict[str, tuple[int, dict, set, tuple[int, int]]]:
    """Items of this chunk already in the bank: id, labels, their (type, value) signals, opinion counts."""
    out: dict[str, tuple[int, dict, set, tuple[int, int]]] = {}
    query = text(f"SELECT i.external_id, i.id, i.labels, s.type, s.value, i.confirmed_count, i.rejected_count FROM bank_items i "
                 f"JOIN (SELECT DISTINCT external_id FROM {STAGE}) st ON st.external_id = i.external_id "
                 f"LEFT JOIN signals s ON s.item_id = i.id WHERE i.bank_id = :bank")
    for external_id, item_id, labels, stype, value, confirmed, rejected in conn.execute(query, {"bank": bank_id}):
        if isinstance(labels, str):
            labels = json.loads(labels)
        entry = out.setdefault(external_id, (item_id, labels or {}, set(), (confirmed, rejected)))
        if stype is not None:
            entry[2].add((stype, value))
    return out


def bulk_rows(conn: Connection, bank_id: int, items: list[ItemUpsert]) -> BulkCounts:
    """Write one chunk (distinct, validated items) with set-based statements; the caller holds the bank write lock."""
    counts = BulkCounts()
    if not items:
        return counts
    _load_stage(conn, items)
    existing = _existing(conn, bank_id)
    changed: list[ItemUpsert] = []
    for item in items:
        old = existing.get(item.external_id)
        if old is None:
            continue
        same_labels = not item.labels or item.labels == old[1]
        same_opinions = item.opinions is None or tuple(item.opinions) == tuple(old[3])
        if same_labels and same_opinions and {(s.type, s.value) for s in item.signals} == old[2] and item.enabled:
            counts.unchanged += 1
        else:
            changed.append(item)
    if existing:
        conn.exec_driver_sql(f"DELETE FROM {STAGE} WHERE external_id IN (SELECT external_id FROM bank_items WHERE bank_id = {int(bank_id)})")
    pg = conn.dialect.name == "postgresql"
    as_json = (lambda col: f"CAST({col} AS JSON)") if pg else (lambda col: col)
    as_bool = (lambda col: f"({col} = 1)") if pg else (lambda col: col)
    before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM signals")).scalar_one()
    now = utcnow()
    stamp = BankItem.__table__.c.created_at.type  # written as the ORM writes it (SQLite keeps text)
    added = conn.execute(text(
        f"INSERT INTO bank_items (bank_id, external_id, labels, content_kind, enabled, confirmed_count, rejected_count, created_at, updated_at) "
        f"SELECT :bank, external_id, {as_json('labels')}, kind, {as_bool('enabled')}, confirmed, rejected, :now, :now FROM {STAGE} WHERE is_first = 1"
    ).bindparams(bindparam("now", type_=stamp)), {"bank": bank_id, "now": now}).rowcount
    conn.execute(text(
        f"INSERT INTO signals (item_id, type, value, quality, meta) "
        f"SELECT i.id, st.type, st.value, st.quality, {as_json('st.meta')} FROM {STAGE} st "
        f"JOIN bank_items i ON i.bank_id = :bank AND i.external_id = st.external_id"), {"bank": bank_id})
    conn.execute(text("INSERT INTO signal_changes (signal_id, type, op) SELECT id, type, 'add' FROM signals WHERE id > :before ORDER BY id"),
                 {"before": before})
    counts.added = int(added or 0)
    if changed:
        statuses = upsert_rows(conn, bank_id, changed)
        counts.updated += statuses.count("updated")
        counts.unchanged += statuses.count("unchanged")
    return counts


def bulk_load(conn: Connection, bank_id: int, items: Iterable[ItemUpsert], prepare: Callable[[list[ItemUpsert]], list[ItemUpsert]],
              progress: Callable[[int], None] = lambda n: None, chunk: int = CHUNK) -> BulkCounts:
    """All chunks of ``items`` through one staging table, in the caller's transaction."""
    total = BulkCounts()
    _create_stage(conn)
    try:
        for batch in chunks(items, chunk):
            counts = bulk_rows(conn, bank_id, prepare(batch))
            total.added += counts.added
            total.updated += counts.updated
            total.unchanged += counts.unchanged
            progress(len(batch))
    finally:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    return total
