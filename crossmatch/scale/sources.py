"""What a backfill reads: a folder, a JSONL item list or a Parquet listing, as numbered partitions.

The listing is stable (folders are walked in name order, lists in line order),
so partition N of a rerun holds the same items as partition N of the first run;
that is what lets a rerun skip finished partitions.  Rows are small (a path or
one JSONL line): workers read the bytes themselves, next to where they hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from crossmatch.items import ItemError, MediaRoot, content_from_file, item_from_record, walk_files
from crossmatch.signals.base import Content

# A Parquet listing names each item with one of these columns (and optionally "id", "text", "url", "labels").
PATH_COLUMNS = ("path", "media", "file")


def list_rows(source: Path) -> Iterator[dict[str, Any]]:
    """One row per item: {"key", "path"} for files, {"key", "record", "base"} for list records."""
    source = Path(source)
    if source.is_dir():
        for file in walk_files(source):
            yield {"key": str(file), "path": str(file), "record": None, "base": None}
    elif source.suffix.lower() == ".jsonl":
        base = str(source.resolve().parent)
        with source.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    yield {"key": f"{source}:{number}", "path": None, "record": raw.decode("utf-8", "replace"), "base": base}
    elif source.suffix.lower() == ".parquet":
        yield from _parquet_rows(source)
    else:
        raise ValueError(f"{source}: a backfill reads a folder, a .jsonl item list or a .parquet listing")


def _parquet_rows(source: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    base = str(source.resolve().parent)
    table = pq.ParquetFile(source)
    names = set(table.schema_arrow.names)
    if not names & {*PATH_COLUMNS, "text", "url"}:
        raise ValueError(f"{source}: a Parquet listing needs a column named path (or media, file), text or url")
    number = 0
    for batch in table.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            record = {k: v for k, v in row.items() if v is not None}
            media = next((record.pop(c) for c in PATH_COLUMNS if c in record), None)
            if media is not None:
                record["media"] = media
            record.setdefault("id", media or f"{source}:{number}")
            yield {"key": f"{source}:{number}", "path": None, "record": json.dumps(record, default=str), "base": base}


def partitions(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def content_of(row: dict[str, Any]) -> Content | ItemError:
    """The item a row names; a bad row is an ItemError (the batch goes on)."""
    if row.get("path"):
        return content_from_file(Path(row["path"]))
    try:
        record = json.loads(row["record"])
    except json.JSONDecodeError as exc:
        return ItemError(row["key"], f"line is not valid JSON ({exc.msg} at column {exc.colno})")
    return item_from_record(record, MediaRoot(Path(row["base"])), row["key"])
