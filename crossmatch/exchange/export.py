"""Sharing back: a bank's signals with labels and review opinions, streamed out.

Formats: ``jsonl`` (one item per line, crossmatch's own), ``csv`` (one row per
signal, formulas neutralised), ``te`` (ThreatExchange descriptor upload
parameters, one per line) and ``stix`` (see :mod:`crossmatch.exchange.stix_io`).
Only signals and labels leave: media is never exported.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TextIO

from sqlalchemy import select

from crossmatch.errors import InvalidInput
from crossmatch.exchange.formats import CSV_COLUMNS, csv_escape, split_labels
from crossmatch.exchange.vectors import quantize
from crossmatch.signals.base import Signal
from crossmatch.store.models import BankItem, SignalRow

FORMATS = ("jsonl", "csv", "te", "stix")
# crossmatch type -> ThreatExchange indicator type (pytx's INDICATOR_TYPE of the same signal).
TE_TYPES = {"pdq": "HASH_PDQ", "md5": "HASH_MD5", "video_md5": "HASH_VIDEO_MD5", "sha256": "HASH_SHA256", "url": "URI",
            "tmk_pdqf": "HASH_TMK"}
TE_PREFIX = "crossmatch:"
# Signal types no partner reads (crossmatch's own ORB keypoints, ~13 KB per image): exported only on request.
LOCAL_TYPES = frozenset({"keypoints"})


@dataclass
class ExportItem:
    external_id: str
    labels: dict[str, Any]
    enabled: bool
    confirmed: int
    rejected: int
    content_kind: str | None
    signals: list[Signal] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.external_id, "signals": [s.to_json() for s in self.signals], "labels": self.labels}
        if not self.enabled:
            out["enabled"] = False
        if self.confirmed or self.rejected:
            out["opinions"] = {"confirmed": self.confirmed, "rejected": self.rejected}
        if self.content_kind:
            out["content_kind"] = self.content_kind
        return out


def iter_bank(sessions, bank_id: int, batch: int = 1000, include_disabled: bool = True) -> Iterator[ExportItem]:
    """Every item of a bank with its signals, in id order, a batch at a time (bounded memory)."""
    last = 0
    while True:
        with sessions() as session:
            query = select(BankItem).where(BankItem.bank_id == bank_id, BankItem.id > last)
            if not include_disabled:
                query = query.where(BankItem.enabled.is_(True))
            items = list(session.scalars(query.order_by(BankItem.id).limit(batch)))
            if not items:
                return
            signals: dict[int, list[Signal]] = {}
            for row in session.scalars(select(SignalRow).where(SignalRow.item_id.in_([i.id for i in items])).order_by(SignalRow.id)):
                signals.setdefault(row.item_id, []).append(Signal(row.type, row.value, row.quality, row.meta or {}))
        for item in items:
            yield ExportItem(item.external_id, dict(item.labels or {}), bool(item.enabled), item.confirmed_count or 0,
                             item.rejected_count or 0, item.content_kind, signals.get(item.id, []))
        last = items[-1].id


def prepare(items: Iterator[ExportItem], quantize_vectors: bool = False,
            progress: Callable[[int], None] = lambda n: None, include_local: bool = False) -> Iterator[ExportItem]:
    for item in items:
        if not include_local:
            item.signals = [s for s in item.signals if s.type not in LOCAL_TYPES]
        if quantize_vectors:
            item.signals = [quantize(s) for s in item.signals]
        yield item
        progress(1)


def write_jsonl(items: Iterator[ExportItem], out: TextIO) -> int:
    count = 0
    for item in items:
        out.write(json.dumps(item.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def write_csv(items: Iterator[ExportItem], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; also makes csv quote a bare CR
    writer.writerow(CSV_COLUMNS)
    count = 0
    for item in items:
        core, extra = split_labels(item.labels)
        for signal in item.signals:
            row = {"signal_type": signal.type, "signal": signal.value, "id": csv_escape(item.external_id), **core,
                   "enabled": "true" if item.enabled else "false", "confirmed_count": str(item.confirmed),
                   "rejected_count": str(item.rejected), "extra_labels": csv_escape(extra) if extra else "",
                   "quality": "" if signal.quality is None else str(signal.quality),
                   "signal_meta": json.dumps(signal.meta, ensure_ascii=False, sort_keys=True) if signal.meta else ""}
            writer.writerow([row.get(c, "") for c in CSV_COLUMNS])
        count += 1
    return count


def te_status(confirmed: int, rejected: int) -> str:
    if rejected > confirmed:
        return "NON_MALICIOUS"
    return "MALICIOUS" if confirmed > 0 else "UNKNOWN"


def write_te(items: Iterator[ExportItem], out: TextIO, privacy_group: int | None = None, share_level: str = "AMBER") -> int:
    """One ThreatExchange ``threat_descriptors`` upload per signal (types ThreatExchange knows).

    The description carries the item id, labels and opinion counts as JSON after
    ``crossmatch:`` so a crossmatch receiving the list gets the same bank back.
    """
    count = 0
    for item in items:
        meta = {"id": item.external_id, "labels": item.labels, "opinions": {"confirmed": item.confirmed, "rejected": item.rejected}}
        if not item.enabled:
            meta["enabled"] = False
        tags = sorted({str(t) for t in item.labels.get("tags", []) if isinstance(t, str)}) if isinstance(item.labels.get("tags"), list) else []
        for signal in item.signals:
            if signal.type not in TE_TYPES:
                continue  # ThreatExchange has no indicator type for it (text embeddings, MinHash)
            params: dict[str, Any] = {
                "indicator": signal.value, "type": TE_TYPES[signal.type],
                "description": TE_PREFIX + json.dumps(meta, ensure_ascii=False, sort_keys=True),
                "status": te_status(item.confirmed, item.rejected), "share_level": share_level, "tags": ",".join(tags),
            }
            if privacy_group is not None:
                params.update(privacy_type="HAS_PRIVACY_GROUP", privacy_members=str(privacy_group))
            out.write(json.dumps(params, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def export_bank(ctx, bank_name: str, fmt: str, out: TextIO, quantize_vectors: bool = False,
                progress: Callable[[int], None] = lambda n: None, **options: Any) -> int:
    if fmt not in FORMATS:
        raise InvalidInput(f"export format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    bank = ctx.banks.get_bank(bank_name)
    items = prepare(iter_bank(ctx.sessions, bank.id), quantize_vectors, progress, bool(options.get("include_keypoints")))
    if fmt == "jsonl":
        return write_jsonl(items, out)
    if fmt == "csv":
        return write_csv(items, out)
    if fmt == "te":
        return write_te(items, out, options.get("privacy_group"), options.get("share_level", "AMBER"))
    from crossmatch.exchange.stix_io import write_stix

    return write_stix(items, out, bank)
