"""Bank service: the one narrow interface to banks, items and their signals.

Public methods validate once and then talk to the database.  Every change to
bank signals is written to the ``signal_changes`` log in the same transaction,
so indices in any process can catch up incrementally.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crossmatch.banks.schemas import BankSpec, check_bank_name
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.signals.base import Signal
from crossmatch.store.models import Bank, BankItem, SignalChange, SignalRow, utcnow


@dataclass
class ItemUpsert:
    """One bank item as an importer or the API hands it in."""

    external_id: str
    signals: list[Signal]
    labels: dict[str, Any] = field(default_factory=dict)
    content_kind: str | None = None


@dataclass(frozen=True)
class SignalRef:
    """A bank signal with what the decision and the evidence need about its item."""

    signal: Signal
    signal_id: int
    item_id: int
    external_id: str
    item_labels: dict[str, Any]
    item_enabled: bool
    bank_id: int


def _mutates(method):
    """Mark a BankService method as a change, bumping ``generation`` once it has committed."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self.generation += 1
        return result

    return wrapper


def _signal_key(signal: Signal) -> tuple[str, str, str]:
    return (signal.type, signal.value, str(sorted((signal.meta or {}).items())))


class BankService:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions
        # Bumped by every change made through this instance, so the same process's
        # indices and bank cache see its own changes at once (other processes within
        # the IndexManager's refresh window).
        self.generation = 0

    # -- banks -----------------------------------------------------------
    @_mutates
    def create_bank(self, spec: BankSpec) -> Bank:
        with self._sessions.begin() as session:
            if session.scalar(select(Bank.id).where(Bank.name == spec.name)) is not None:
                raise Conflict(f"bank {spec.name!r} already exists; choose another name or use it as it is")
            bank = Bank(**spec.model_dump())
            session.add(bank)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"bank {spec.name!r} already exists") from None
            return bank

    def list_banks(self) -> list[Bank]:
        with self._sessions() as session:
            return list(session.scalars(select(Bank).order_by(Bank.name)))

    def get_bank(self, name: str) -> Bank:
        with self._sessions() as session:
            bank = session.scalar(select(Bank).where(Bank.name == name))
            if bank is None:
                raise NotFound(f"no bank named {name!r}; see `crossmatch bank list`")
            return bank

    def bank_stats(self, bank_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            items = session.scalar(select(func.count()).select_from(BankItem).where(BankItem.bank_id == bank_id)) or 0
            by_type = dict(
                session.execute(
                    select(SignalRow.type, func.count())
                    .join(BankItem, SignalRow.item_id == BankItem.id)
                    .where(BankItem.bank_id == bank_id)
                    .group_by(SignalRow.type)
                ).all()
            )
            return {"items": items, "signals": by_type}

    @_mutates
    def update_bank(self, name: str, **changes: Any) -> Bank:
        allowed = {"enabled", "kind", "description", "labels", "thresholds", "options"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot change {sorted(unknown)} on a bank; allowed: {sorted(allowed)}")
        if "kind" in changes and changes["kind"] not in ("block", "allow"):
            raise InvalidInput("bank kind must be 'block' or 'allow'")
        with self._sessions.begin() as session:
            bank = session.scalar(select(Bank).where(Bank.name == name))
            if bank is None:
                raise NotFound(f"no bank named {name!r}; see `crossmatch bank list`")
            for key, value in changes.items():
                setattr(bank, key, value)
            return bank

    @_mutates
    def delete_bank(self, name: str) -> None:
        with self._sessions.begin() as session:
            bank = session.scalar(select(Bank).where(Bank.name == name))
            if bank is None:
                raise NotFound(f"no bank named {name!r}")
            item_ids = select(BankItem.id).where(BankItem.bank_id == bank.id)
            self._log_removed(session, select(SignalRow.id, SignalRow.type).where(SignalRow.item_id.in_(item_ids)))
            session.execute(delete(SignalRow).where(SignalRow.item_id.in_(item_ids)))
            session.execute(delete(BankItem).where(BankItem.bank_id == bank.id))
            session.delete(bank)

    # -- items -----------------------------------------------------------
    @_mutates
    def upsert_items(self, bank_name: str, items: Sequence[ItemUpsert]) -> list[str]:
        """Add or update items by external id; returns 'added' / 'updated' / 'unchanged' per item.

        Idempotent: re-running an interrupted import changes nothing already stored.
        Written with SQLAlchemy Core and multi-row statements because imports of
        million-row hash lists spend most of their time here; the ORM's per-object
        bookkeeping costs several times more.
        """
        bank = self.get_bank(bank_name)
        seen: set[str] = set()
        for item in items:
            if not item.external_id:
                raise InvalidInput("every bank item needs a non-empty id")
            if item.external_id in seen:
                raise InvalidInput(f"item id {item.external_id!r} appears twice in one batch")
            seen.add(item.external_id)
        items_t, signals_t, changes_t = BankItem.__table__, SignalRow.__table__, SignalChange.__table__
        with self._sessions.begin() as session:
            conn = session.connection()
            existing = {
                row.external_id: row
                for row in conn.execute(
                    select(items_t.c.id, items_t.c.external_id, items_t.c.labels, items_t.c.enabled).where(
                        items_t.c.bank_id == bank.id, items_t.c.external_id.in_(list(seen))
                    )
                )
            }
            old_signals: dict[int, list] = {}
            if existing:
                query = select(signals_t.c.id, signals_t.c.item_id, signals_t.c.type, signals_t.c.value, signals_t.c.quality, signals_t.c.meta)
                for row in conn.execute(query.where(signals_t.c.item_id.in_([r.id for r in existing.values()]))):
                    old_signals.setdefault(row.item_id, []).append(row)
            fresh = [item for item in items if item.external_id not in existing]
            new_ids: dict[str, int] = {}
            if fresh:
                now = utcnow()
                rows = [
                    {"bank_id": bank.id, "external_id": it.external_id, "labels": it.labels, "content_kind": it.content_kind,
                     "enabled": True, "created_at": now, "updated_at": now}
                    for it in fresh
                ]
                new_ids = dict(conn.execute(insert(items_t).returning(items_t.c.external_id, items_t.c.id), rows).all())
            statuses: list[str] = []
            new_rows: list[dict[str, Any]] = []
            removed: list[tuple[int, str]] = []
            changed_items: list[dict[str, Any]] = []
            for item in items:
                if item.external_id in new_ids:
                    status, item_id, keep = "added", new_ids[item.external_id], set()
                else:
                    row = existing[item.external_id]
                    status, item_id, keep = "unchanged", row.id, set()
                    labels = item.labels if item.labels else row.labels
                    if labels != row.labels or not row.enabled:
                        changed_items.append({"b_id": row.id, "b_labels": labels})
                        status = "updated"
                    wanted = {_signal_key(s) for s in item.signals}
                    for old in old_signals.get(row.id, []):
                        key = _signal_key(Signal(old.type, old.value, old.quality, old.meta or {}))
                        if key in wanted and key not in keep:
                            keep.add(key)
                        else:
                            removed.append((old.id, old.type))
                            status = "updated"
                for signal in item.signals:
                    key = _signal_key(signal)
                    if key in keep:
                        continue
                    keep.add(key)
                    new_rows.append({"item_id": item_id, "type": signal.type, "value": signal.value, "quality": signal.quality, "meta": signal.meta or {}})
                    if status == "unchanged":
                        status = "updated"
                statuses.append(status)
            if changed_items:
                conn.execute(
                    update(items_t)
                    .where(items_t.c.id == bindparam("b_id"))
                    .values(labels=bindparam("b_labels"), enabled=True, updated_at=utcnow()),
                    changed_items,
                )
            if removed:
                conn.execute(delete(signals_t).where(signals_t.c.id.in_([sid for sid, _ in removed])))
                conn.execute(insert(changes_t), [{"signal_id": sid, "type": t, "op": "remove"} for sid, t in removed])
            if new_rows:
                inserted = conn.execute(insert(signals_t).returning(signals_t.c.id, signals_t.c.type), new_rows).all()
                conn.execute(insert(changes_t), [{"signal_id": sid, "type": t, "op": "add"} for sid, t in inserted])
            return statuses

    def list_items(self, bank_name: str, limit: int = 100, offset: int = 0) -> list[BankItem]:
        bank = self.get_bank(bank_name)
        with self._sessions() as session:
            query = select(BankItem).where(BankItem.bank_id == bank.id).order_by(BankItem.id).limit(limit).offset(offset)
            return list(session.scalars(query))

    def get_item(self, bank_name: str, external_id: str) -> tuple[BankItem, list[SignalRow]]:
        bank = self.get_bank(bank_name)
        with self._sessions() as session:
            item = session.scalar(select(BankItem).where(BankItem.bank_id == bank.id, BankItem.external_id == external_id))
            if item is None:
                raise NotFound(f"bank {bank_name!r} has no item {external_id!r}")
            signals = list(session.scalars(select(SignalRow).where(SignalRow.item_id == item.id).order_by(SignalRow.id)))
            return item, signals

    @_mutates
    def set_item_enabled(self, bank_name: str, external_id: str, enabled: bool) -> None:
        item, _ = self.get_item(bank_name, external_id)
        with self._sessions.begin() as session:
            session.execute(update(BankItem).where(BankItem.id == item.id).values(enabled=enabled))

    @_mutates
    def delete_item(self, bank_name: str, external_id: str) -> None:
        item, _ = self.get_item(bank_name, external_id)
        with self._sessions.begin() as session:
            self._log_removed(session, select(SignalRow.id, SignalRow.type).where(SignalRow.item_id == item.id))
            session.execute(delete(SignalRow).where(SignalRow.item_id == item.id))
            session.execute(delete(BankItem).where(BankItem.id == item.id))

    def record_opinion(self, item_id: int, confirmed: bool) -> None:
        """Feed a review decision back into the item's opinion counts."""
        column = BankItem.confirmed_count if confirmed else BankItem.rejected_count
        with self._sessions.begin() as session:
            result = session.execute(update(BankItem).where(BankItem.id == item_id).values({column: column + 1}))
            if result.rowcount == 0:
                raise NotFound(f"no bank item with id {item_id}")

    @staticmethod
    def _log_removed(session: Session, id_type_query) -> None:
        rows = session.execute(id_type_query).all()
        if rows:
            session.execute(insert(SignalChange), [{"signal_id": sid, "type": t, "op": "remove"} for sid, t in rows])

    # -- what indices and the engine read ----------------------------------
    def latest_change(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.max(SignalChange.seq))) or 0

    def count_signals(self, signal_type: str) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(SignalRow).where(SignalRow.type == signal_type)) or 0

    def iter_signals(self, signal_type: str, batch: int = 50_000) -> Iterator[tuple[int, Signal]]:
        """Every stored signal of a type, streamed in id order."""
        last = 0
        while True:
            with self._sessions() as session:
                rows = session.execute(
                    select(SignalRow.id, SignalRow.value, SignalRow.quality, SignalRow.meta)
                    .where(SignalRow.type == signal_type, SignalRow.id > last)
                    .order_by(SignalRow.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for sid, value, quality, meta in rows:
                yield sid, Signal(signal_type, value, quality, meta or {})
            last = rows[-1][0]

    def changes_since(self, signal_type: str, seq: int) -> tuple[list[tuple[int, Signal]], list[int], int]:
        """(signals added, signal ids removed, newest seq) for one type after ``seq``."""
        with self._sessions() as session:
            rows = session.execute(
                select(SignalChange.seq, SignalChange.signal_id, SignalChange.op, SignalRow.value, SignalRow.quality, SignalRow.meta)
                .outerjoin(SignalRow, SignalRow.id == SignalChange.signal_id)
                .where(SignalChange.type == signal_type, SignalChange.seq > seq)
                .order_by(SignalChange.seq)
            ).all()
        added: dict[int, Signal] = {}
        removed: list[int] = []
        newest = seq
        for change_seq, sid, op, value, quality, meta in rows:
            newest = change_seq
            if op == "add":
                if value is not None:  # None: deleted since; its "remove" follows in the log
                    added[sid] = Signal(signal_type, value, quality, meta or {})
            else:
                added.pop(sid, None)
                removed.append(sid)
        return list(added.items()), list(dict.fromkeys(removed)), newest

    def describe_signals(self, signal_ids: Iterable[int]) -> dict[int, SignalRef]:
        ids = list(set(signal_ids))
        out: dict[int, SignalRef] = {}
        with self._sessions() as session:
            for start in range(0, len(ids), 900):
                rows = session.execute(
                    select(SignalRow, BankItem.external_id, BankItem.labels, BankItem.enabled, BankItem.bank_id)
                    .join(BankItem, SignalRow.item_id == BankItem.id)
                    .where(SignalRow.id.in_(ids[start : start + 900]))
                ).all()
                for row, external_id, labels, enabled, bank_id in rows:
                    signal = Signal(row.type, row.value, row.quality, row.meta or {})
                    out[row.id] = SignalRef(signal, row.id, row.item_id, external_id, labels or {}, enabled, bank_id)
        return out

    @staticmethod
    def validate_name(name: str) -> str:
        try:
            return check_bank_name(name)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
