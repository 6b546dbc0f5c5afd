"""Bank import from a folder of files, a JSONL of items, a hash-list CSV or a STIX 2.1 bundle.

Imports are idempotent by item id (a file's path relative to the imported
folder, the JSONL ``id``, or the CSV ``id`` column / ``type:signal``), so a
rerun after an interruption neither duplicates nor drops anything.  Bad rows
are reported with the row and the reason, and the import goes on.  A ``.json``
file is read only as a STIX bundle (through :mod:`crossmatch.exchange.stix_io`,
the exchange's own reader): hashing the bundle file itself would bank one
meaningless MD5.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from pydantic import ValidationError

from crossmatch.banks.bulk import chunks
from crossmatch.banks.schemas import ItemLabels
from crossmatch.banks.service import BankService, ItemUpsert
from crossmatch.exchange.file_source import default_item_id
from crossmatch.exchange.formats import allow_long_csv_cells
from crossmatch.hashing import BatchHasher
from crossmatch.items import ItemError, MediaRoot, iter_jsonl, walk_files, content_from_file
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, InvalidSignal, Signal
from crossmatch.signals.registry import SignalRegistry, UnknownSignalType, canonical_type_name

BATCH = 500
CSV_REQUIRED = ("signal_type", "signal")


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ItemError] = field(default_factory=list)

    def count(self, statuses: list[str]) -> None:
        for status in statuses:
            setattr(self, status, getattr(self, status) + 1)

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"item": e.item, "error": e.error} for e in self.errors],
        }


Progress = Callable[[int], None]


def import_path(
    settings: Settings,
    banks: BankService,
    registry: SignalRegistry,
    bank_name: str,
    path: Path,
    progress: Progress = lambda n: None,
    source: str | None = None,
    *,
    media: MediaRoot | None,
) -> ImportReport:
    """Import ``path`` into a bank.  ``media`` says where JSONL ``"media"`` paths may be read:
    ``NO_MEDIA`` for uploads (never the server's disk), None for the JSONL file's own folder."""
    banks.get_bank(bank_name)  # fail fast, before reading anything
    report = ImportReport()
    suffix = path.suffix.lower()
    if path.is_dir():
        entries = _folder_entries(path)
    elif suffix == ".jsonl":
        entries = iter_jsonl(path, media)
    elif suffix == ".csv":
        # Hash lists load through a staging table in one transaction (crossmatch/banks/bulk.py).
        counts = banks.bulk_upsert(bank_name, _csv_items(path, registry, report, source, settings), progress,
                                   lambda item, why: report.errors.append(ItemError(item, why)))
        report.added, report.updated, report.unchanged = (report.added + counts["added"], report.updated + counts["updated"],
                                                          report.unchanged + counts["unchanged"])
        return report
    elif suffix == ".json" and path.is_file():
        _flush_all(banks, bank_name, _stix_items(path, registry, report, source, settings), report, progress)
        return report
    elif path.is_file():
        entries = iter([content_from_file(path, path.name)])
    else:
        report.errors.append(ItemError(str(path), "no such file or folder"))
        return report
    return import_entries(settings, banks, registry, bank_name, entries, report, progress, source)


def import_entries(
    settings: Settings,
    banks: BankService,
    registry: SignalRegistry,
    bank_name: str,
    entries: Iterator[Content | ItemError],
    report: ImportReport,
    progress: Progress = lambda n: None,
    source: str | None = None,
) -> ImportReport:
    """Hash a stream of contents (e.g. read from standard input) into a bank."""
    _flush_all(banks, bank_name, _hashed_items(settings, registry, entries, report, source), report, progress)
    return report


def _folder_entries(root: Path) -> Iterator[Content | ItemError]:
    for file in walk_files(root):
        yield content_from_file(file, file.relative_to(root).as_posix())


def _hashed_items(
    settings: Settings,
    registry: SignalRegistry,
    entries: Iterator[Content | ItemError],
    report: ImportReport,
    source: str | None,
) -> Iterator[ItemUpsert]:
    for content, hashed in BatchHasher(settings, registry, for_bank=True).map(entries):
        if isinstance(content, ItemError):
            report.errors.append(content)
            continue
        signals = hashed.signals
        if hashed.error and not signals:
            report.errors.append(ItemError(content.item, hashed.error))
            continue
        if not signals:
            report.errors.append(ItemError(content.item, f"no signal could be made from this {content.kind}"))
            continue
        labels = _labels(content.labels, source, settings)
        if isinstance(labels, str):
            report.errors.append(ItemError(content.item, labels))
            continue
        yield ItemUpsert(content.item, signals, labels, content.kind)


def _csv_items(path: Path, registry: SignalRegistry, report: ImportReport, source: str | None,
               settings: Settings) -> Iterator[ItemUpsert]:
    """Rows ``signal_type,signal[,id][,label columns...]``; rows sharing an id form one item."""
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        report.errors.append(ItemError(str(path), f"cannot read: {exc.strerror}"))
        return
    allow_long_csv_cells()
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            report.errors.append(ItemError(str(path), f"not a readable CSV: {exc}"))
            return
        limit = settings.limits.max_labels + len(CSV_REQUIRED) + 1
        if len(header) > limit:
            report.errors.append(ItemError(str(path), f"CSV has {len(header)} columns; at most {limit} are allowed "
                                                      f"(signal_type, signal, id and limits.max_labels label columns)"))
            return
        missing = [c for c in CSV_REQUIRED if c not in header]
        if missing:
            report.errors.append(
                ItemError(str(path), f"CSV lacks column(s) {missing}; a hash list needs a header with signal_type,signal")
            )
            return
        pending: ItemUpsert | None = None
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a cell over the field limit: this row only, the import goes on
                line = max(line + 1, reader.line_num)
                report.errors.append(ItemError(f"{path}:{line}", f"unreadable row: {exc}"))
                continue
            except UnicodeDecodeError as exc:
                report.errors.append(ItemError(f"{path}:{line + 1}", f"unreadable row: {exc}"))
                break  # the stream position is unknown after a decode error
            line = reader.line_num
            where = f"{path}:{line}"
            try:
                signal = _csv_signal(row, registry)
            except (InvalidSignal, UnknownSignalType) as exc:
                report.errors.append(ItemError(where, str(exc)))
                continue
            item_id = (row.get("id") or "").strip() or default_item_id(signal.type, signal.value)
            labels = _labels({k: v for k, v in row.items() if k not in (*CSV_REQUIRED, "id") and k and v not in (None, "")},
                             source, settings)
            if isinstance(labels, str):
                report.errors.append(ItemError(where, labels))
                continue
            if pending is not None and pending.external_id == item_id:
                pending.signals.append(signal)
                continue
            if pending is not None:
                yield pending
            pending = ItemUpsert(item_id, [signal], labels, None)
        if pending is not None:
            yield pending


def _stix_items(path: Path, registry: SignalRegistry, report: ImportReport, source: str | None,
                settings: Settings) -> Iterator[ItemUpsert]:
    """A STIX 2.1 bundle's indicators, read by the STIX exchange's reader; anything else named .json is refused."""
    from crossmatch.exchange.base import SourceError
    from crossmatch.exchange.stix_io import read_bundle

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        updates, errors = read_bundle(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SourceError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else str(exc)
        report.errors.append(ItemError(str(path), f"bank import reads a .json file only as a STIX 2.1 bundle, and this is "
                                                  f"not one ({detail}); for a list of items use JSONL (.jsonl, one object a line)"))
        return
    report.errors.extend(errors)
    for update in updates:
        item_id = update.item_id or update.key
        if update.deleted:
            report.errors.append(ItemError(item_id, "revoked indicator; not imported"))
            continue
        signals = []
        for given in update.signals:
            try:
                if isinstance(given, Signal):
                    name = canonical_type_name(given.type)
                    signals.append(Signal(name, registry.get(name).validate(given.value), given.quality, given.meta))
                else:
                    name = canonical_type_name(given[0])
                    signals.append(Signal(name, registry.get(name).validate(given[1])))
            except (InvalidSignal, UnknownSignalType) as exc:
                report.errors.append(ItemError(item_id, str(exc)))
        if not signals:
            continue
        labels = _labels(update.labels, source, settings)
        if isinstance(labels, str):
            report.errors.append(ItemError(item_id, labels))
            continue
        yield ItemUpsert(item_id, signals, labels, update.content_kind)


def _labels(given: dict, source: str | None, settings: Settings) -> dict | str:
    """An item's labels, checked against ``limits`` (a per-item error message instead when they break one)."""
    limits = settings.limits
    if len(given) > limits.max_labels:
        return f"item has {len(given)} labels; at most {limits.max_labels} are allowed (limits.max_labels)"
    for key, value in given.items():
        if len(str(key)) > 200 or len(str(value)) > limits.max_label_chars:
            return (f"label {str(key)[:40]!r} is over {limits.max_label_chars} characters (limits.max_label_chars) "
                    "or its name over 200; shorten it")
    labels = dict(given)
    if source and "source" not in labels:
        labels["source"] = source
    try:
        return ItemLabels(**labels).compact()
    except (ValidationError, TypeError) as exc:
        return f"labels are not valid ({str(exc).splitlines()[0][:200]}); label values are strings"


def _csv_signal(row: dict, registry: SignalRegistry) -> Signal:
    type_name = canonical_type_name(row.get("signal_type") or "")
    if not type_name:
        raise InvalidSignal("empty signal_type")
    signal_type = registry.get(type_name)
    return Signal(type_name, signal_type.validate(row.get("signal") or ""))


def _flush_all(banks: BankService, bank_name: str, items: Iterator[ItemUpsert], report: ImportReport, progress: Progress) -> None:
    # The same id twice in one list merges its signals rather than failing the batch (as the bulk path does).
    for batch in chunks(items, BATCH):
        report.count(banks.upsert_items(bank_name, batch))
        progress(len(batch))

