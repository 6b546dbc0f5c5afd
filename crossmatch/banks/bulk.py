"""Bulk load of hash lists: a staging table and set-based statements, in one transaction.

A million-row list through :func:`crossmatch.banks.upsert.upsert_rows` costs a statement
round trip per batch of 500 and Python work per row; here each chunk is copied into a
temporary staging table (PostgreSQL ``COPY``; SQLite ``executemany``) and set-based
statements do the rest: one finds the items already in the bank that the list changes,
three add the new items, their signals and their change-log rows. Items already in the
bank and unchanged cost no Python work at all; changed ones go through ``upsert_rows``
(its exact semantics: a source only disables, signals replaced). The whole load is one
transaction under the bank write lock, so readers see it at once and the serving index
takes it as one batch append of the change log.

A hash list arrives as :class:`SignalRows` (columns, no Python object per row: building a
frozen ``Signal`` and an ``ItemUpsert`` per row cost more than reading the CSV); other
callers (exchange sync) hand in :class:`ItemUpsert` objects. Both become the same staging
rows (:data:`COLUMNS`; a hash list needs only :data:`LIST_COLUMNS`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from sqlalchemy import Connection, bindparam, text

from crossmatch.banks.upsert import ItemUpsert, upsert_rows
from crossmatch.signals.base import Signal
from crossmatch.store.models import BankItem, utcnow

CHUNK = 50_000
STAGE = "cm_bulk_stage"
# One staging row per signal; the item's own fields ride on its first row (is_first = 1).
# confirmed/rejected are NULL when the source shares no opinion counts (the stored ones stay).
COLUMNS = ("external_id", "is_first", "labels", "kind", "enabled", "confirmed", "rejected", "type", "value", "quality", "meta")
# A hash list's rows: the other columns take their defaults (an enabled item of unknown kind, no
# opinions, no quality or meta); half the columns halve SQLite's executemany.
LIST_COLUMNS = ("external_id", "is_first", "labels", "type", "value")
NO_META = "{}"
_encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class BulkCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    statuses: list[str] = field(default_factory=list)


@dataclass
class SignalRows:
    """Rows of a hash list in columns, one entry per signal, in list order. Rows sharing an id
    are one item; its labels are its first row's. Label values are strings (as read from a CSV)."""

    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    labels: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, other: "SignalRows") -> None:
        self.ids += other.ids
        self.types += other.types
        self.values += other.values
        self.labels += other.labels

    def split(self, at: int) -> tuple["SignalRows", "SignalRows"]:
        return (SignalRows(self.ids[:at], self.types[:at], self.values[:at], self.labels[:at]),
                SignalRows(self.ids[at:], self.types[at:], self.values[at:], self.labels[at:]))

    def keep(self, wanted: list[bool]) -> "SignalRows":
        pick = [n for n, ok in enumerate(wanted) if ok]
        return SignalRows([self.ids[n] for n in pick], [self.types[n] for n in pick], [self.values[n] for n in pick],
                          [self.labels[n] for n in pick])


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


def row_chunks(blocks: Iterable[SignalRows], size: int = CHUNK) -> Iterator[SignalRows]:
    """Blocks gathered into chunks of about ``size`` rows, never cutting an item's consecutive rows apart."""
    pending = SignalRows()
    for block in blocks:
        pending.extend(block)
        if len(pending) < size:
            continue
        cut = len(pending) - 1
        while cut > 0 and pending.ids[cut] == pending.ids[cut - 1]:
            cut -= 1
        if cut == 0:
            continue  # one item's rows so far: keep gathering
        chunk, pending = pending.split(cut)
        yield chunk
    if len(pending):
        yield pending


def stage_from_rows(rows: SignalRows, flags: dict[str, str], flag_label: str) -> list[tuple]:
    """Staging rows for a hash-list chunk; ``flags`` adds ``flag_label`` (the reason) to those items' labels.

    Rows with equal labels share one dict (the importer's label sets), so each distinct set is
    JSON-encoded once, found by the dict's identity (the chunk holds every dict alive meanwhile)."""
    seen: set[str] = set()
    first = [not (i in seen or seen.add(i)) for i in rows.ids]  # type: ignore[func-returns-value]
    encoded: dict[int, str] = {}
    labels_json = []
    for external_id, is_first, labels in zip(rows.ids, first, rows.labels):
        if not is_first:
            labels_json.append(None)
        elif flags and external_id in flags:
            labels_json.append(_encode({**labels, flag_label: flags[external_id]}))
        else:
            text = encoded.get(id(labels))
            if text is None:
                text = encoded[id(labels)] = _encode(labels)
            labels_json.append(text)
    return [(i, 1 if f else 0, j, t, v) for i, f, j, t, v in zip(rows.ids, first, labels_json, rows.types, rows.values)]


def stage_from_items(items: list[ItemUpsert]) -> list[tuple]:
    """Staging rows for distinct items (exchange sync, API batches)."""
    out = []
    for item in items:
        labels = _encode(item.labels or {})
        confirmed, rejected = item.opinions if item.opinions is not None else (None, None)
        for n, s in enumerate(item.signals):
            out.append((item.external_id, 1 if n == 0 else 0, labels if n == 0 else None, item.content_kind,
                        1 if item.enabled else 0, confirmed, rejected, s.type, s.value, s.quality,
                        _encode(s.meta) if s.meta else NO_META))
    return out


def _items_from_stage(rows: Iterable[tuple]) -> list[ItemUpsert]:
    """The ItemUpsert objects that staging rows stand for (only for items ``upsert_rows`` must look at)."""
    items: dict[str, ItemUpsert] = {}
    for row in rows:
        if len(row) == len(LIST_COLUMNS):
            row = (*row[:3], None, 1, None, None, *row[3:], None, NO_META)
        external_id, first, labels, kind, enabled, confirmed, rejected, stype, value, quality, meta = row
        signal = Signal(stype, value, quality, json.loads(meta) if meta and meta != NO_META else {})
        if external_id in items:
            items[external_id].signals.append(signal)
            continue
        opinions = (confirmed, rejected) if confirmed is not None else None
        items[external_id] = ItemUpsert(external_id, [signal], json.loads(labels) if labels else {}, kind, bool(enabled), opinions)
    return list(items.values())


def _create_stage(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {STAGE} (external_id TEXT NOT NULL, is_first INTEGER NOT NULL, labels TEXT, "
        f"kind TEXT, enabled INTEGER NOT NULL DEFAULT 1, confirmed INTEGER, rejected INTEGER, type TEXT NOT NULL, value TEXT NOT NULL, "
        f"quality REAL, meta TEXT NOT NULL DEFAULT '{NO_META}')"
    )
    conn.exec_driver_sql(f"CREATE INDEX {STAGE}_ext ON {STAGE} (external_id)")


def _load_stage(conn: Connection, rows: list[tuple]) -> None:
    conn.exec_driver_sql(f"DELETE FROM {STAGE}")
    columns = ", ".join(LIST_COLUMNS if len(rows[0]) == len(LIST_COLUMNS) else COLUMNS)
    if conn.dialect.name == "postgresql":
        # COPY in CSV form, written by the csv module in C (psycopg's write_row is Python per row).
        # An unquoted empty cell is NULL: None is written so; no staged text is empty but a content kind.
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY {STAGE} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.exec_driver_sql(f"ANALYZE {STAGE}")  # the planner otherwise guesses a tiny table and loops
    else:
        conn.exec_driver_sql(f"INSERT INTO {STAGE} ({columns}) VALUES ({', '.join('?' * len(rows[0]))})", rows)


# Existing items of this bank that a staged item would change: a source disables it, shares other
# opinion counts, gives other labels (compared as stored text first: equal text is equal labels;
# unequal text goes to upsert_rows, which compares the decoded labels), adds a (type, value) signal
# the item lacks, or lacks one the item has. Plain joins (no correlated subqueries), so PostgreSQL
# hashes them and SQLite walks its indices. ``s.type || ''`` keeps a planner without statistics off
# the (type, id) index, which would read every signal of the type for each staged row.
_ITEM = f"{STAGE} st JOIN bank_items i ON i.bank_id = :bank AND i.external_id = st.external_id"
_CHANGED = f"""
SELECT st.external_id FROM {_ITEM} WHERE st.is_first = 1 AND (
  st.enabled = 0
  OR (st.confirmed IS NOT NULL AND (st.confirmed <> i.confirmed_count OR st.rejected <> i.rejected_count))
  OR (st.labels <> '{{}}' AND st.labels <> CAST(i.labels AS TEXT)))
UNION
SELECT st.external_id FROM {_ITEM}
  LEFT JOIN signals s ON s.item_id = i.id AND s.type || '' = st.type AND s.value = st.value WHERE s.id IS NULL
UNION
SELECT i.external_id FROM {_ITEM} JOIN signals s ON s.item_id = i.id
  LEFT JOIN {STAGE} other ON other.external_id = i.external_id AND other.type = s.type AND other.value = s.value
  WHERE st.is_first = 1 AND other.external_id IS NULL
"""


def bulk_rows(conn: Connection, bank_id: int, rows: list[tuple], fresh_statistics: list[bool] | None = None) -> BulkCounts:
    """Write one chunk of staging rows (distinct items, validated); the caller holds the bank write lock.

    ``fresh_statistics`` ([False] at the start of a load) is set once PostgreSQL's planner statistics
    were refreshed: a list loaded moments ago is otherwise planned as a tiny table, and the
    comparison joins degrade to a scan per row."""
    counts = BulkCounts()
    if not rows:
        return counts
    _load_stage(conn, rows)
    existing = conn.execute(text(f"SELECT COUNT(*) FROM {_ITEM} WHERE st.is_first = 1"), {"bank": bank_id}).scalar_one()
    changed: list[ItemUpsert] = []
    if existing:
        if conn.dialect.name == "postgresql" and fresh_statistics is not None and not fresh_statistics[0]:
            conn.exec_driver_sql("ANALYZE bank_items, signals")
            fresh_statistics[0] = True
        changed_ids = {row[0] for row in conn.execute(text(_CHANGED), {"bank": bank_id})}
        if changed_ids:
            changed = _items_from_stage(row for row in rows if row[0] in changed_ids)
        counts.unchanged = existing - len(changed_ids)
        conn.execute(text(f"DELETE FROM {STAGE} WHERE EXISTS (SELECT 1 FROM bank_items i WHERE i.bank_id = :bank "
                          f"AND i.external_id = {STAGE}.external_id)"), {"bank": bank_id})
    pg = conn.dialect.name == "postgresql"
    as_json = (lambda col: f"CAST({col} AS JSON)") if pg else (lambda col: col)
    as_bool = (lambda col: f"({col} = 1)") if pg else (lambda col: col)
    before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM signals")).scalar_one()
    items_before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM bank_items")).scalar_one()
    now = utcnow()
    stamp = BankItem.__table__.c.created_at.type  # written as the ORM writes it (SQLite keeps text)
    added = conn.execute(text(
        f"INSERT INTO bank_items (bank_id, external_id, labels, content_kind, enabled, confirmed_count, rejected_count, created_at, updated_at) "
        f"SELECT :bank, external_id, {as_json('labels')}, kind, {as_bool('enabled')}, COALESCE(confirmed, 0), COALESCE(rejected, 0), "
        f":now, :now FROM {STAGE} WHERE is_first = 1"
    ).bindparams(bindparam("now", type_=stamp)), {"bank": bank_id, "now": now}).rowcount
    if added:
        conn.execute(text(
            f"INSERT INTO signals (item_id, type, value, quality, meta) "
            f"SELECT i.id, st.type, st.value, st.quality, {as_json('st.meta')} FROM {STAGE} st "
            # only the items just added (ids above items_before: the bank write lock is held), so the
            # join never reads the whole bank, however stale the planner's idea of its size
            f"JOIN bank_items i ON i.id > :items_before AND i.bank_id = :bank AND i.external_id = st.external_id"),
            {"bank": bank_id, "items_before": items_before})
        conn.execute(text("INSERT INTO signal_changes (signal_id, type, op) SELECT id, type, 'add' FROM signals WHERE id > :before ORDER BY id"),
                     {"before": before})
    counts.added = int(added or 0)
    if changed:
        statuses = upsert_rows(conn, bank_id, changed)
        counts.updated += statuses.count("updated")
        counts.unchanged += statuses.count("unchanged")
    return counts


def bulk_load(conn: Connection, bank_id: int, chunks_of_rows: Iterable[list[tuple]],
              progress: Callable[[int], None] = lambda n: None) -> BulkCounts:
    """Every chunk of staging rows through one staging table, in the caller's transaction."""
    total = BulkCounts()
    fresh_statistics = [False]
    _create_stage(conn)
    try:
        for rows in chunks_of_rows:
            counts = bulk_rows(conn, bank_id, rows, fresh_statistics)
            total.added += counts.added
            total.updated += counts.updated
            total.unchanged += counts.unchanged
            progress(len(rows))
    finally:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    return total

