"""What a finished partition leaves behind: Parquet files, and cases/actions per each bank's policy.

Shared by the Ray backfill and the re-scan.  Parquet files are written first
(under a temporary name, then renamed, so a reader never sees half a file);
then the partition's cases, actions and its ``backfill_partitions`` row commit
in one transaction.  A crash between the two leaves the partition unfinished:
the rerun writes the same files again and commits once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crossmatch.engine import ScanResult
from crossmatch.scale.models import BackfillPartition


@dataclass
class PartitionTotals:
    items: int = 0
    matched: int = 0
    errors: int = 0
    cases: int = 0
    actions: int = 0
    skipped: bool = False  # already finished (by an earlier run, or a concurrent one)


@dataclass
class Recorder:
    """Writes partitions of one run (``run`` is its key in ``backfill_partitions``)."""

    cx: Any  # crossmatch.context.Context
    run: str
    out: Path
    source_label: str = "backfill"
    _services: tuple[Any, Any] | None = field(default=None, repr=False)

    def finished(self) -> set[int]:
        with self.cx.sessions() as session:
            return set(session.scalars(select(BackfillPartition.partition).where(BackfillPartition.run == self.run)))

    def _review_and_actions(self) -> tuple[Any, Any]:
        if self._services is None:
            from crossmatch.actions.service import ActionService
            from crossmatch.audit.service import AuditLog
            from crossmatch.review.service import ReviewService

            actions = ActionService(self.cx.sessions, self.cx.settings, self.cx.banks)
            review = ReviewService(self.cx.sessions, self.cx.banks, AuditLog(self.cx.sessions), actions, self.cx.settings)
            self._services = (review, actions)
        return self._services

    def record(self, partition: int, results: Sequence[ScanResult], with_signals: bool = True) -> PartitionTotals:
        totals = PartitionTotals(items=len(results))
        totals.matched = sum(bool(r.matches) for r in results)
        totals.errors = sum(not r.complete for r in results)
        name = f"part-{partition:06d}.parquet"
        _write(self.out / "items" / name, [_item_row(partition, r) for r in results], ITEM_SCHEMA)
        _write(self.out / "matches" / name, [row for r in results for row in _match_rows(partition, r)], MATCH_SCHEMA)
        if with_signals:
            _write(self.out / "signals" / name, [row for r in results for row in _signal_rows(r)], SIGNAL_SCHEMA)
        review, actions = self._review_and_actions()
        try:
            with self.cx.sessions.begin() as session:
                for result in results:
                    if not result.matches:
                        continue
                    case_id = None
                    if result.error is None and actions.wants_review(result):
                        case_id = review.open_case(result, None, None, f"{self.source_label}:{self.run}"[:200], session=session)
                        totals.cases += case_id is not None
                    totals.actions += len(actions.on_scan(result, None, case_id, session=session))
                session.add(BackfillPartition(run=self.run, partition=partition, items=totals.items,
                                              matched=totals.matched, errors=totals.errors))
        except IntegrityError:  # another run finished this partition first: its cases stand, ours rolled back
            return PartitionTotals(skipped=True)
        return totals


def _write(path: Path, rows: list[dict[str, Any]], schema_fn) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema_fn()), tmp)
    os.replace(tmp, path)


def ITEM_SCHEMA():
    import pyarrow as pa

    return pa.schema([("partition", pa.int32()), ("item", pa.string()), ("kind", pa.string()), ("complete", pa.bool_()),
                      ("error", pa.string()), ("incomplete", pa.string()), ("matches", pa.int32()), ("warnings", pa.string())])


def MATCH_SCHEMA():
    import pyarrow as pa

    return pa.schema([("partition", pa.int32()), ("item", pa.string()), ("bank", pa.string()), ("bank_kind", pa.string()),
                      ("bank_item", pa.string()), ("signal_type", pa.string()), ("distance", pa.float64()),
                      ("score", pa.float64()), ("threshold", pa.float64()), ("evidence", pa.string())])


def SIGNAL_SCHEMA():
    import pyarrow as pa

    return pa.schema([("item", pa.string()), ("type", pa.string()), ("value", pa.string()), ("quality", pa.int32()),
                      ("meta", pa.string())])


def _item_row(partition: int, r: ScanResult) -> dict[str, Any]:
    return {"partition": partition, "item": r.item, "kind": r.kind, "complete": r.complete, "error": r.error,
            "incomplete": ",".join(r.incomplete) or None, "matches": len(r.matches),
            "warnings": json.dumps(r.warnings) if r.warnings else None}


def _match_rows(partition: int, r: ScanResult) -> list[dict[str, Any]]:
    return [{"partition": partition, "item": r.item, "bank": m.bank, "bank_kind": m.bank_kind, "bank_item": m.bank_item,
             "signal_type": m.signal_type, "distance": m.distance, "score": m.score, "threshold": m.threshold,
             "evidence": json.dumps(m.evidence, default=str)} for m in r.matches]


def _signal_rows(r: ScanResult) -> list[dict[str, Any]]:
    # Query-only variants (the dihedral PDQ turns) are kept too: a re-scan cannot re-derive them without the image.
    return [{"item": r.item, "type": s.type, "value": s.value, "quality": s.quality,
             "meta": json.dumps(s.meta, default=str) if s.meta else None} for s in r.signals]
