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
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterator

from pydantic import ValidationError

from crossmatch.banks.bulk import SignalRows, chunks
from crossmatch.banks.schemas import ItemLabels
from crossmatch.banks.service import BankService, ItemUpsert
from crossmatch.exchange.file_source import default_item_id
from crossmatch.exchange.formats import allow_long_csv_cells
from crossmatch.hashing import BatchHasher
from crossmatch.items import ItemError, MediaRoot, iter_jsonl, walk_files, content_from_file
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, InvalidSignal, Signal, validate_many
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
        counts = banks.bulk_load_rows(bank_name, _csv_blocks(path, registry, report, source, settings), progress,
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
    """The list's items one by one (rows sharing an id in a row form one item): for callers that
    want objects; ``bank import`` loads the blocks of :func:`_csv_blocks` as they are."""
    pending: ItemUpsert | None = None
    for block in _csv_blocks(path, registry, report, source, settings):
        for item_id, type_name, value, labels in zip(block.ids, block.types, block.values, block.labels):
            if pending is not None and pending.external_id == item_id:
                pending.signals.append(Signal(type_name, value))
                continue
            if pending is not None:
                yield pending
            pending = ItemUpsert(item_id, [Signal(type_name, value)], dict(labels), None)  # label sets are shared
    if pending is not None:
        yield pending


def _csv_blocks(path: Path, registry: SignalRegistry, report: ImportReport, source: str | None,
                settings: Settings) -> Iterator[SignalRows]:
    """Rows ``signal_type,signal[,id][,label columns...]`` as column blocks; rows sharing an id form one item.

    Million-row lists are read a block of rows at a time: hashes are validated per block
    (:func:`validate_many`), label names once per file; each bad row is still reported with its line.
    """
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        report.errors.append(ItemError(str(path), f"cannot read: {exc.strerror}"))
        return
    allow_long_csv_cells()
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None) or []
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
        yield from _csv_row_blocks(path, header, _csv_raw_blocks(reader, path), registry, report, source, settings)


CSV_BLOCK = 5000  # rows read and validated together
LABEL_SETS = 100_000  # distinct label sets remembered (each is one dict shared by its rows)


@dataclass
class _RawBlock:
    """Rows as the csv module read them (an unreadable row is an ItemError in its place), and where
    each run of rows starts: (index in rows, its line). Lines are worked out only for a bad row."""

    rows: list
    starts: list[tuple[int, int]]

    def line(self, index: int) -> int:
        first, line = max((s for s in self.starts if s[0] <= index), key=lambda s: s[0])
        for row in self.rows[first:index]:
            # a quoted cell may hold line breaks: its record spans more than one line
            line += 1 if isinstance(row, ItemError) else 1 + sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in row)
        return line


def _csv_raw_blocks(reader, path: Path) -> Iterator[_RawBlock]:
    """Blocks of rows read by the csv module in C (one Python step per block, not per row)."""
    done = False
    while not done:
        block = _RawBlock([], [(0, reader.line_num + 1)])
        while len(block.rows) < CSV_BLOCK:
            before = len(block.rows)
            try:
                block.rows.extend(islice(reader, CSV_BLOCK - before))
            except csv.Error as exc:  # e.g. a cell over the field limit: this row only, the import goes on
                block.rows.append(ItemError(f"{path}:{reader.line_num}", f"unreadable row: {exc}"))
                block.starts.append((len(block.rows), reader.line_num + 1))
                continue
            except UnicodeDecodeError as exc:
                block.rows.append(ItemError(f"{path}:{reader.line_num + 1}", f"unreadable row: {exc}"))
                done = True  # the stream position is unknown after a decode error
                break
            if len(block.rows) == before:
                done = True
                break
        if block.rows:
            yield block


def _csv_row_blocks(path: Path, header: list[str], blocks: Iterator[_RawBlock],
                    registry: SignalRegistry, report: ImportReport, source: str | None,
                    settings: Settings) -> Iterator[SignalRows]:
    """The good rows of each block of the file, in columns; bad rows go to ``report`` in file order."""
    width = len(header)
    columns = {name: n for n, name in enumerate(header)}  # a repeated column name: the last one wins
    type_col, signal_col, id_col = columns["signal_type"], columns["signal"], columns.get("id")
    label_cols = [(name, n) for name, n in columns.items() if name and name not in (*CSV_REQUIRED, "id")]
    limits = settings.limits
    # Label names are the header's: checked once (any row then needs only its values' lengths checked).
    names_ok = len(label_cols) <= limits.max_labels and all(len(name) <= 200 for name, _ in label_cols) and not isinstance(
        _labels({name: "x" for name, _ in label_cols}, None, settings), str)
    label_of = _label_sets([name for name, _ in label_cols], source)
    cells_of = itemgetter(*[n for _, n in label_cols]) if len(label_cols) > 1 else None
    types: dict[str, object] = {}
    for raw in blocks:
        rows = raw.rows
        whole = not any(isinstance(row, ItemError) for row in rows) and min(map(len, rows)) >= width
        checked = _block_signals(rows, type_col, signal_col, registry, types, width)
        if whole and names_ok and not any(isinstance(v, Exception) for _, v in checked) and not any(
                max(map(len, [row[n] for row in rows])) > limits.max_label_chars for _, n in label_cols):
            # Every row is good: columns by list comprehension, labels one dict per distinct set.
            if cells_of is not None:
                known = label_of.known  # type: ignore[attr-defined]
                labels = [known.get(cells) or label_of(cells) for cells in map(cells_of, rows)]
            elif label_cols:
                labels = [label_of((row[label_cols[0][1]],)) for row in rows]
            else:
                labels = [label_of(())] * len(rows)
            types_col = [t for t, _ in checked]
            values = [v for _, v in checked]
            ids = [row[id_col].strip() for row in rows] if id_col is not None else [""] * len(rows)
            if "" in ids:
                ids = [i or default_item_id(t, v) for i, t, v in zip(ids, types_col, values)]
            yield SignalRows(ids, types_col, values, labels)  # type: ignore[arg-type]
            continue
        out = SignalRows()
        for index, (row, (type_name, value)) in enumerate(zip(rows, checked)):
            if isinstance(row, ItemError):
                report.errors.append(row)
                continue
            if not row:
                continue  # a blank line, as csv.DictReader skips it
            if len(row) < width:
                row = row + [""] * (width - len(row))
            if isinstance(value, Exception):
                report.errors.append(ItemError(f"{path}:{raw.line(index)}", str(value)))
                continue
            labels = _labels({name: row[n] for name, n in label_cols if row[n]}, source, settings)
            if isinstance(labels, str):
                report.errors.append(ItemError(f"{path}:{raw.line(index)}", labels))
                continue
            out.ids.append((row[id_col].strip() if id_col is not None else "") or default_item_id(type_name, value))
            out.types.append(type_name)
            out.values.append(value)
            out.labels.append(labels)
        yield out


def _label_sets(names: list[str], source: str | None) -> Callable[[tuple], dict]:
    """Label cells -> the item's labels, one shared dict per distinct set of cells (hash lists
    repeat a few entities and categories; the bulk loader then encodes each set once)."""
    known: dict[tuple, dict] = {}

    def labels_of(cells: tuple) -> dict:
        labels = known.get(cells)
        if labels is None:
            if len(known) >= LABEL_SETS:
                known.clear()
            labels = {name: value for name, value in zip(names, cells) if value}
            if source and "source" not in labels:
                labels["source"] = source
            known[cells] = labels
        return labels

    labels_of.known = known  # type: ignore[attr-defined]  # callers look up hits inline: no call per row
    return labels_of


def _block_signals(rows: list, type_col: int, signal_col: int, registry: SignalRegistry,
                   types: dict[str, object], width: int) -> list[tuple[str, str | Exception]]:
    """(signal type, canonical value or the error) per row of a block, validated a type at a time."""
    if any(isinstance(row, ItemError) for row in rows) or min(map(len, rows)) < width:
        rows = [row + [""] * (width - len(row)) if not isinstance(row, ItemError) else [""] * width for row in rows]
    canonical: dict[str, str] = {}  # a list's names for a type (HASH_TMK, TMK+PDQF, ...), mapped once per block
    names = [canonical.get(raw) or canonical.setdefault(raw, canonical_type_name(raw)) for raw in (row[type_col] for row in rows)]
    out: list[tuple[str, str | Exception]] = [("", InvalidSignal("empty signal_type"))] * len(rows)
    by_type: dict[str, list[int]] = {}
    if len(set(names)) == 1:
        by_type[names[0]] = list(range(len(rows)))
    else:
        for n, name in enumerate(names):
            by_type.setdefault(name, []).append(n)
    for name, where in by_type.items():
        if not name:
            continue
        if name not in types:
            try:
                types[name] = registry.get(name)
            except UnknownSignalType as exc:
                types[name] = exc
        signal_type = types[name]
        if isinstance(signal_type, Exception):
            for n in where:
                out[n] = (name, signal_type)
            continue
        values = validate_many(signal_type, [rows[n][signal_col] for n in where])  # type: ignore[arg-type]
        if len(where) == len(rows):
            return [(name, value) for value in values]
        for n, value in zip(where, values):
            out[n] = (name, value)
    return out


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


def _flush_all(banks: BankService, bank_name: str, items: Iterator[ItemUpsert], report: ImportReport, progress: Progress) -> None:
    # The same id twice in one list merges its signals rather than failing the batch (as the bulk path does).
    for batch in chunks(items, BATCH):
        report.count(banks.upsert_items(bank_name, batch))
        progress(len(batch))

