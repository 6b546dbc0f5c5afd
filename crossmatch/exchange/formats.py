"""Shared shapes of crossmatch's own hash-list files (CSV and JSONL), for export and import.

CSV: one row per signal, ``signal_type,signal,id`` first (what ``bank import``
reads too), then label columns, opinion counts and ``extra_labels`` (JSON of
any other label keys).  JSONL: one bank item per line.
Spreadsheet formulas in CSV cells are neutralised on export with a leading
``'`` (OWASP's advice) and the quote is taken off again on import.
"""

from __future__ import annotations

import csv
import json
from typing import Any

# Python's csv refuses cells over 128 KiB; a TMK+PDQF hash is 351,125 characters. 4 MiB still
# bounds what one hostile cell can cost.
MAX_CSV_CELL = 4 * 1024 * 1024


def allow_long_csv_cells() -> None:
    """Raise the csv module's cell limit (process-wide, only ever raised) before reading a hash list."""
    if csv.field_size_limit() < MAX_CSV_CELL:
        csv.field_size_limit(MAX_CSV_CELL)

CORE_LABELS = ("entity", "outlet", "category", "language", "source", "first_seen", "notes")
CSV_COLUMNS = ("signal_type", "signal", "id", *CORE_LABELS, "enabled", "confirmed_count", "rejected_count",
               "extra_labels", "quality", "signal_meta")
RESERVED = {"signal_type", "signal", "id", "enabled", "confirmed_count", "rejected_count", "extra_labels", "signal_meta", "quality"}

# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_START)


def csv_escape(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # Quote when a formula starts after any leading quotes, so unescaping is exact.
    return "'" + text if looks_like_formula(text.lstrip("'")) else text


def csv_unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and looks_like_formula(text.lstrip("'")) else text


def split_labels(labels: dict[str, Any]) -> tuple[dict[str, str], str]:
    """(core label columns, JSON of the rest) for one CSV row."""
    core = {k: csv_escape(labels[k]) for k in CORE_LABELS if labels.get(k) not in (None, "")}
    extra = {k: v for k, v in labels.items() if k not in CORE_LABELS and v not in (None, "")}
    return core, (json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "")


def parse_bool(value: str | None, default: bool = True) -> bool:
    if value in (None, ""):
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def parse_count(value: str | None, what: str) -> int:
    if value in (None, ""):
        return 0
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, got {value[:40]!r}") from None
    if count < 0:
        raise ValueError(f"{what} must not be negative")
    return count
