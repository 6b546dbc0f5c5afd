"""Hash-list files (CSV and JSONL) as a resumable snapshot source.

The checkpoint is the byte offset after the last whole item, plus the file's
size and mtime: a rerun after an interruption seeks there, and a file that
changed meanwhile is read again from the start (the run's sweep stays right
because unchanged items are simply seen again).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from crossmatch.exchange.base import Checkpoint, Delta, SourceError, Update
from crossmatch.exchange.formats import RESERVED, allow_long_csv_cells, csv_unescape, looks_like_formula, parse_bool, parse_count
from crossmatch.items import ItemError
from crossmatch.signals.base import Signal
from crossmatch.signals.registry import canonical_type_name

BATCH = 10_000  # items per delta: one staging-table load and one checkpoint each


class Truncated(ItemError):
    """The file ends mid-record: the run must not count as complete."""


class FileSource:
    def __init__(self, name: str, path: str | Path, fmt: str | None = None, batch: int = BATCH) -> None:
        self.name = name
        self.path = Path(path)
        self.fmt = (fmt or self.path.suffix.lstrip(".")).lower()
        if self.fmt not in ("csv", "jsonl"):
            raise SourceError(f"exchange {name!r}: cannot read {self.path.name!r}; use a .csv or .jsonl hash list (or set format)")
        self.batch = batch

    def snapshot(self, checkpoint: Checkpoint | None) -> bool:
        return True  # a file holds the whole list every time

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        try:
            stat = self.path.stat()
            handle = self.path.open("rb")
        except OSError as exc:
            raise SourceError(f"exchange {self.name!r}: cannot read {self.path}: {exc.strerror}; check the path") from None
        stamp = [stat.st_size, stat.st_mtime_ns]
        offset = 0
        if checkpoint and checkpoint.get("file") == stamp:
            offset = int(checkpoint.get("offset", 0))
        with handle:
            rows = _csv_records(handle, self.path, offset) if self.fmt == "csv" else _jsonl_records(handle, self.path, offset)
            records = grouped(rows, offset)
            updates: list[Update] = []
            errors: list[ItemError] = []
            for entry, end in records:
                if isinstance(entry, Truncated):
                    # Keep what came before; stop without a sweep so a cut-off file never disables the rest.
                    safe = end if end >= 0 else None
                    yield Delta(updates, {"file": stamp, "offset": safe} if safe is not None else checkpoint, errors)
                    raise SourceError(f"exchange {self.name!r}: {entry.item}: {entry.error}")
                if isinstance(entry, ItemError):
                    errors.append(entry)
                else:
                    updates.append(entry)
                if len(updates) + len(errors) >= self.batch:
                    yield Delta(updates, {"file": stamp, "offset": end}, errors)
                    updates, errors = [], []
            yield Delta(updates, {"file": stamp, "offset": stat.st_size}, errors)


def _lines(handle: BinaryIO, offset: int, lines_before: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(line, line number or -1 after a resume seek, byte offset after it)."""
    handle.seek(offset)
    position = offset
    number = 0 if offset == 0 else (lines_before if lines_before is not None else -1)
    for raw in handle:
        position += len(raw)
        if number >= 0:
            number += 1
        yield raw, number, position


def _jsonl_records(handle: BinaryIO, path: Path, offset: int) -> Iterator[tuple[Update | ItemError, int]]:
    for raw, number, end in _lines(handle, offset):
        where = f"{path.name}:{number}" if number > 0 else f"{path.name}@{end - len(raw)}"
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield ItemError(where, f"line is not valid UTF-8 (byte {exc.start}); re-encode the file as UTF-8"), end
            continue
        except json.JSONDecodeError as exc:
            if not raw.endswith(b"\n"):
                yield Truncated(where, f"the last line is cut off ({exc.msg}); the file looks truncated: fetch it again"), end - len(raw)
                return
            yield ItemError(where, f"line is not valid JSON ({exc.msg} at column {exc.colno})"), end
            continue
        try:
            yield update_from_json(record), end
        except ValueError as exc:
            yield ItemError(where, str(exc)), end


def update_from_json(record: Any) -> Update:
    """A JSONL line: ``{"id", "signals": [{"type", "value"}], "labels", "enabled", "opinions"}``
    or the flat ``{"signal_type", "signal", "id"?, ...labels}``."""
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    if "signals" in record:
        signals = record["signals"]
        if not isinstance(signals, list) or not all(isinstance(s, dict) and "type" in s and "value" in s for s in signals):
            raise ValueError('"signals" must be a list of {"type", "value"} objects')
        pairs = [_signal(s.get("type"), s.get("value"), s.get("quality"), s.get("meta")) for s in signals]
        labels = record.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError('"labels" must be an object')
    elif "indicator" in record and "type" in record:
        return _update_from_te(record)
    elif "signal_type" in record and "signal" in record:
        pairs = [(canonical_type_name(record["signal_type"]), str(record["signal"]))]
        labels = {k: v for k, v in record.items() if k not in RESERVED and v not in (None, "")}
    else:
        raise ValueError('a line needs "signals" (a list) or "signal_type" and "signal"')
    item_id = str(record.get("id") or "")
    if not item_id and pairs:
        item_id = default_item_id(pairs[0][0], pairs[0][1])
    if not item_id:
        raise ValueError("item has no id and no signals")
    opinions = record.get("opinions")
    counts = None
    if isinstance(opinions, dict):
        counts = (parse_count(str(opinions.get("confirmed", 0)), "opinions.confirmed"), parse_count(str(opinions.get("rejected", 0)), "opinions.rejected"))
    return Update(item_id, pairs, labels, opinions=counts, content_kind=record.get("content_kind"), enabled=bool(record.get("enabled", True)))


def _update_from_te(record: dict[str, Any]) -> Update:
    """A ThreatExchange descriptor upload line, as ``exchange export --format te`` writes it."""
    from crossmatch.exchange.export import TE_PREFIX, TE_TYPES

    reverse = {v: k for k, v in TE_TYPES.items()}
    te_type = str(record["type"])
    if te_type not in reverse:
        raise ValueError(f"ThreatExchange type {te_type!r} has no crossmatch signal type; known: {', '.join(sorted(reverse))}")
    signal = (reverse[te_type], str(record["indicator"]))
    description = str(record.get("description") or "")
    meta: dict[str, Any] = {}
    if description.startswith(TE_PREFIX):
        try:
            meta = json.loads(description[len(TE_PREFIX):])
        except json.JSONDecodeError:
            raise ValueError("description starts with 'crossmatch:' but the rest is not JSON") from None
    labels = dict(meta.get("labels") or {})
    if not meta and record.get("tags"):
        labels["tags"] = [t for t in str(record["tags"]).split(",") if t]
    opinions = meta.get("opinions") or {}
    counts = (int(opinions.get("confirmed", 0)), int(opinions.get("rejected", 0))) if opinions else None
    item_id = str(meta.get("id") or default_item_id(*signal))
    return Update(item_id, [signal], labels, opinions=counts, enabled=bool(meta.get("enabled", True)))


def _csv_records(handle: BinaryIO, path: Path, offset: int) -> Iterator[tuple[Update | ItemError, int]]:
    """Rows ``signal_type,signal[,id][,labels...]``; consecutive rows sharing an id form one item."""
    allow_long_csv_cells()
    handle.seek(0)
    header_line = handle.readline()
    try:
        header = next(csv.reader([header_line.decode("utf-8-sig")]))
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise SourceError(f"{path.name}:1: not a readable CSV header ({exc}); the first line must name the columns") from None
    header = [h.strip() for h in header]
    missing = [c for c in ("signal_type", "signal") if c not in header]
    if missing:
        raise SourceError(f"{path.name}:1: CSV lacks column(s) {missing}; a hash list needs a header starting signal_type,signal")
    start = max(offset, len(header_line))
    for row, where, end in _csv_rows(handle, path, start, 1 if start == len(header_line) else None):
        if isinstance(row, ItemError):
            yield row, end
            continue
        if len(row) != len(header):
            yield ItemError(where, f"row has {len(row)} columns, the header has {len(header)}; quote values that contain commas"), end
            continue
        fields = {h: csv_unescape(v) for h, v in zip(header, row)}
        try:
            yield _update_from_row(fields), end
        except ValueError as exc:
            yield ItemError(where, str(exc)), end


def grouped(records: Iterator[tuple[Update | ItemError, int]], start: int) -> Iterator[tuple[Update | ItemError, int]]:
    """Merge consecutive rows of one item (one row per signal) into one update.

    Each yielded offset is safe to resume from: it never passes an item that
    is still being gathered.
    """
    pending: Update | None = None
    pending_start = pending_end = start
    for entry, end in records:
        if isinstance(entry, ItemError):
            yield entry, (pending_start if pending is not None else end)
            continue
        if pending is not None and pending.key == entry.key:
            pending.signals.extend(entry.signals)
            pending_end = end
            continue
        if pending is not None:
            yield pending, pending_end
        pending, pending_start, pending_end = entry, pending_end, end
    if pending is not None:
        yield pending, pending_end


def _csv_rows(handle: BinaryIO, path: Path, offset: int, lines_before: int | None) -> Iterator[tuple[list[str] | ItemError, str, int]]:
    buffer = b""
    first = None
    for raw, number, end in _lines(handle, offset, lines_before):
        first = first if buffer else number
        buffer += raw
        if buffer.count(b'"') % 2:  # a quoted value spans lines: read on
            continue
        where = f"{path.name}:{first}" if first and first > 0 else f"{path.name}@{end - len(buffer)}"
        chunk, buffer = buffer, b""
        if not chunk.strip():
            continue
        try:
            yield next(csv.reader([chunk.decode("utf-8")])), where, end
        except UnicodeDecodeError as exc:
            yield ItemError(where, f"row is not valid UTF-8 (byte {exc.start}); re-encode the file as UTF-8"), where, end
        except (csv.Error, StopIteration) as exc:
            yield ItemError(where, f"unreadable row: {exc}"), where, end
    if buffer.strip():
        yield Truncated(f"{path.name}@end", "unterminated quoted value at the end of the file; it looks truncated: fetch it again"), "", -1


def _update_from_row(fields: dict[str, str]) -> Update:
    signal_type = canonical_type_name(fields.get("signal_type", ""))
    signal = fields.get("signal", "").strip()
    if not signal_type or not signal:
        raise ValueError("empty signal_type or signal")
    item_id = fields.get("id", "").strip() or default_item_id(signal_type, signal)
    labels: dict[str, Any] = {k: v for k, v in fields.items() if k and k not in RESERVED and v != ""}
    extra = fields.get("extra_labels", "")
    if extra:
        try:
            parsed = json.loads(extra)
        except json.JSONDecodeError:
            raise ValueError("extra_labels is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise ValueError("extra_labels is not a JSON object")
        labels.update(parsed)
    opinions = None
    if fields.get("confirmed_count") or fields.get("rejected_count"):
        opinions = (parse_count(fields.get("confirmed_count"), "confirmed_count"), parse_count(fields.get("rejected_count"), "rejected_count"))
    meta = None
    if fields.get("signal_meta"):
        try:
            meta = json.loads(fields["signal_meta"])
        except json.JSONDecodeError:
            raise ValueError("signal_meta is not JSON") from None
    quality = fields.get("quality") or None
    return Update(item_id, [_signal(signal_type, signal, quality, meta)], labels, opinions=opinions,
                  enabled=parse_bool(fields.get("enabled")))


def default_item_id(type_name: Any, value: Any) -> str:
    """The id of a list row that has none: type and value, or for huge values (a TMK hash is 350 KB)
    type and the value's SHA-256, so ids stay short and the same row always gets the same id.
    The bound is above every other type's values (keypoints: ~13 KB), whose ids stay as they were."""
    type_name, value = str(type_name), str(value)
    if len(value) <= 65_536:
        return f"{type_name}:{value}"
    return f"{type_name}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def _signal(type_name: Any, value: Any, quality: Any = None, meta: Any = None) -> Signal:
    if quality not in (None, ""):
        try:
            quality = int(quality)
        except (TypeError, ValueError):
            raise ValueError(f"signal quality must be a whole number, got {str(quality)[:20]!r}") from None
    if meta is not None and not isinstance(meta, dict):
        raise ValueError("signal meta must be an object")
    return Signal(canonical_type_name(type_name), str(value).strip(), quality if quality != "" else None, meta or {})


def formula_warnings(update: Update) -> list[str]:
    """Label values a spreadsheet would run: kept as text, exported escaped, reported."""
    return [k for k, v in update.labels.items() if isinstance(v, str) and looks_like_formula(v)]
