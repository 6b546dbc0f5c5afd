"""Runs a source into its bank: the one place that applies deltas and moves checkpoints.

Order matters for resumability: each delta's bank upserts commit first, then
its source mapping and checkpoint commit together.  A crash between the two
replays the delta on the next run; upserts are idempotent by item id, so
nothing is duplicated, and the checkpoint never runs ahead of the bank, so
nothing is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select, update

from crossmatch.banks.service import BankService, ItemUpsert
from crossmatch.errors import CrossmatchError, InvalidInput
from crossmatch.exchange.base import Delta, Source, Update
from crossmatch.exchange.file_source import formula_warnings
from crossmatch.exchange.vectors import dequantize
from crossmatch.exchange.models import Exchange, ExchangeItem
from crossmatch.items import ItemError
from crossmatch.signals.base import InvalidSignal, Signal
from crossmatch.signals.registry import RegistryError, SignalRegistry, canonical_type_name
from crossmatch.store.models import utcnow

log = logging.getLogger(__name__)
UPSERT_BATCH = 500


@dataclass
class SyncReport:
    exchange: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    deltas: int = 0
    complete: bool = False
    error: str | None = None
    errors: list[ItemError] = field(default_factory=list)
    warnings: list[ItemError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "removed": self.removed, "deltas": self.deltas, "complete": self.complete, "error": self.error,
            "errors": [{"item": e.item, "error": e.error} for e in self.errors],
            "warnings": [{"item": w.item, "warning": w.error} for w in self.warnings],
        }


class Syncer:
    """Applies one source's deltas to one exchange's bank."""

    def __init__(self, sessions, banks: BankService, registry: SignalRegistry) -> None:
        self._sessions = sessions
        self._banks = banks
        self._registry = registry

    def run(self, exchange: Exchange, source: Source, progress: Callable[[int], None] = lambda n: None,
            max_deltas: int | None = None) -> SyncReport:
        report = SyncReport(exchange.name)
        self._banks.get_bank(exchange.bank_name)  # NotFound before any checkpoint moves
        state = exchange.checkpoint or {"cp": None, "sweep": False}
        run = exchange.run
        if not state.get("sweep") and source.snapshot(state.get("cp")):
            # A new full read: count the run, so items it does not see can be swept at the end.
            run += 1
            state = {"cp": None, "sweep": True}
            self._save(exchange.id, state, run=run)
        try:
            for delta in source.fetch(state["cp"]):
                entries = self._apply(exchange, delta, report)
                state = {"cp": delta.checkpoint, "sweep": state["sweep"]}
                self._save(exchange.id, state, mapping=(run, entries))
                report.deltas += 1
                progress(len(delta.updates) + len(delta.errors))
                if max_deltas is not None and report.deltas >= max_deltas:
                    return report  # stopped early on purpose (tests, bounded scheduler runs)
            if state["sweep"]:
                self._sweep(exchange, run, report)
                self._save(exchange.id, {"cp": state["cp"], "sweep": False})
            report.complete = True
            self._finish(exchange.id, None)
        except CrossmatchError as exc:
            report.error = str(exc)
            self._finish(exchange.id, report.error)
        except Exception as exc:  # network and parse errors from third-party clients
            report.error = f"exchange {exchange.name!r}: {type(exc).__name__}: {exc}; rerun `crossmatch exchange sync {exchange.name}` to resume from the last checkpoint"
            log.warning("%s", report.error)
            self._finish(exchange.id, report.error)
        return report

    # -- one delta ---------------------------------------------------------
    def _apply(self, exchange: Exchange, delta: Delta, report: SyncReport) -> dict[str, tuple[str, dict]]:
        """Bank upserts and removals for one delta; returns the source mapping to commit with the checkpoint."""
        report.errors.extend(delta.errors)
        latest: dict[str, Update] = {}
        for upd in delta.updates:
            latest.pop(upd.key, None)
            latest[upd.key] = upd  # the last word on a key in one delta wins
        live: dict[str, tuple[Update, ItemUpsert]] = {}
        item_ids: set[str] = set()
        gone: list[str] = []
        for key, upd in latest.items():
            if upd.deleted:
                gone.append(key)
                continue
            item = self._to_upsert(exchange, upd, report)
            if item is None:
                continue
            if item.external_id in item_ids:
                report.errors.append(ItemError(key, f"item id {item.external_id!r} given twice in one batch; kept the first"))
                continue
            item_ids.add(item.external_id)
            live[key] = (upd, item)
        items = [item for _, item in live.values()]
        if items:
            # One staging-table load per delta (crossmatch/banks/bulk.py): PostgreSQL COPY, SQLite executemany.
            counts = self._banks.bulk_upsert(exchange.bank_name, items)
            for status, n in counts.items():
                setattr(report, status, getattr(report, status) + n)
        if gone:
            report.removed += self._remove(exchange, gone)
        return {key: (item.external_id, upd.labels) for key, (upd, item) in live.items()}

    def _to_upsert(self, exchange: Exchange, upd: Update, report: SyncReport) -> ItemUpsert | None:
        signals: list[Signal] = []
        for given in upd.signals:
            sig = given if isinstance(given, Signal) else Signal(given[0], given[1])
            sig = Signal(canonical_type_name(sig.type), sig.value, sig.quality, sig.meta)
            try:
                if sig.meta.get("quantized"):
                    sig = dequantize(sig)
                signals.append(Signal(sig.type, self._registry.get(sig.type).validate(sig.value), sig.quality, sig.meta))
            except (InvalidSignal, RegistryError, InvalidInput, ValueError, TypeError, KeyError, AttributeError) as exc:
                # unknown types are InvalidInput; a malformed value or meta fails this signal alone, not the sync
                report.errors.append(ItemError(upd.key, str(exc)))
        if not signals:
            if upd.signals:
                return None  # every signal was bad; each is reported above
            report.errors.append(ItemError(upd.key, "record carries no signal"))
            return None
        labels = {k: v for k, v in upd.labels.items() if v not in (None, "", [], {})}
        labels.setdefault("source", exchange.name)
        for key in formula_warnings(Update(upd.key, labels=labels)):
            report.warnings.append(ItemError(upd.key, f"label {key!r} starts like a spreadsheet formula; kept as text, escaped on CSV export"))
        # The source's disabled flag and opinion counts travel with the item; a source can only disable.
        return ItemUpsert(upd.item_id or upd.key, signals, labels, upd.content_kind, upd.enabled, upd.opinions)

    def _remove(self, exchange: Exchange, keys: list[str]) -> int:
        """Mark source records deleted; disable their items unless another live source still has them."""
        with self._sessions.begin() as session:
            rows = list(session.scalars(select(ExchangeItem).where(
                ExchangeItem.exchange_id == exchange.id, ExchangeItem.source_key.in_(keys), ExchangeItem.deleted.is_(False))))
            for row in rows:
                row.deleted = True
            external_ids = {row.external_id for row in rows}
            if not external_ids:
                return 0
            still = set(session.scalars(
                select(ExchangeItem.external_id).join(Exchange, Exchange.id == ExchangeItem.exchange_id).where(
                    Exchange.bank_name == exchange.bank_name, Exchange.id != exchange.id,
                    ExchangeItem.external_id.in_(external_ids), ExchangeItem.deleted.is_(False))))
            # In the same transaction as the source mapping: both happen or neither.
            return self._banks.disable_items(exchange.bank_name, sorted(external_ids - still), session=session)

    def _save(self, exchange_id: int, state: dict, run: int | None = None, mapping: tuple[int, dict] | None = None) -> None:
        """The checkpoint and the delta's source mapping, in one transaction after the bank."""
        with self._sessions.begin() as session:
            if mapping is not None:
                self._write_map(session, exchange_id, *mapping)
            values: dict[str, Any] = {"checkpoint": state}
            if run is not None:
                values["run"] = run
            session.execute(update(Exchange).where(Exchange.id == exchange_id).values(**values))

    @staticmethod
    def _write_map(session, exchange_id: int, run: int, entries: dict[str, tuple[str, dict]]) -> None:
        """One upsert per delta on (exchange, source key), no read first: a read of the existing
        keys was planned as a scan of the exchange's rows per key on a freshly loaded table."""
        if not entries:
            return
        table = ExchangeItem.__table__
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        stmt = upsert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.exchange_id, table.c.source_key],
            set_={name: stmt.excluded[name] for name in ("external_id", "labels", "deleted", "last_seen_run", "updated_at")})
        now = utcnow()
        session.connection().execute(stmt, [
            {"exchange_id": exchange_id, "source_key": key, "external_id": external_id, "labels": labels,
             "deleted": False, "last_seen_run": run, "updated_at": now}
            for key, (external_id, labels) in entries.items()])

    def _sweep(self, exchange: Exchange, run: int, report: SyncReport) -> None:
        """After a complete snapshot run: records not seen in it were removed at the source."""
        while True:
            with self._sessions() as session:
                keys = list(session.scalars(select(ExchangeItem.source_key).where(
                    ExchangeItem.exchange_id == exchange.id, ExchangeItem.deleted.is_(False),
                    ExchangeItem.last_seen_run < run).limit(900)))
            if not keys:
                return
            report.removed += self._remove(exchange, keys)

    def _finish(self, exchange_id: int, error: str | None) -> None:
        with self._sessions.begin() as session:
            session.execute(update(Exchange).where(Exchange.id == exchange_id).values(
                last_sync_at=datetime.now(timezone.utc), last_error=error))
