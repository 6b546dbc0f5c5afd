"""Bank service: the one narrow interface to banks, items and their signals.

Public methods validate once and then talk to the database; the bank rules
(thresholds, options, policies, who may enable an item) live here, so the CLI, the
API, the review queue and the exchanges all get the same answers.  Every change to
bank signals is written to the ``signal_changes`` log in the same transaction, so
indices in any process can catch up incrementally; every bank write first takes the
store's bank write lock (:func:`crossmatch.store.db.serialise_bank_writes`), which
makes the log's order its commit order.  Writes take an optional ``session=`` so a
workflow can include them in its own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import Text, cast, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crossmatch.banks.schemas import BankSpec, check_bank_name, check_options, check_thresholds
from crossmatch.banks.upsert import ItemUpsert, upsert_rows  # ItemUpsert: importers take it from here
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.signals.base import Signal
from crossmatch.signals.registry import SignalRegistry
from crossmatch.store.db import on_commit, serialise_bank_writes, transaction
from crossmatch.store.models import Bank, BankItem, SignalChange, SignalRow

if TYPE_CHECKING:
    from crossmatch.banks.bulk import SignalRows

MAX_EXTERNAL_ID = 500  # bank_items.external_id is VARCHAR(500); PostgreSQL refuses longer


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


class BankService:
    def __init__(self, sessions: sessionmaker, registry: SignalRegistry) -> None:
        self._sessions = sessions
        self._registry = registry  # what the threshold rules need: each type's metric and range
        # Bumped by every change made through this instance once it has committed, so the
        # same process's indices and bank cache see its own changes at once (other
        # processes within the IndexManager's refresh window).
        self.generation = 0

    def _changed(self, session: Session) -> None:
        on_commit(session, self._bump)

    def _bump(self) -> None:
        self.generation += 1

    # -- banks -----------------------------------------------------------
    def create_bank(self, spec: BankSpec) -> Bank:
        values = spec.model_dump()
        values.update(self._checked(spec.name, {k: values[k] for k in ("thresholds", "options")}))
        with self._sessions.begin() as session:
            if session.scalar(select(Bank.id).where(Bank.name == spec.name)) is not None:
                raise Conflict(f"bank {spec.name!r} already exists; choose another name or use it as it is")
            bank = Bank(**values)
            session.add(bank)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"bank {spec.name!r} already exists") from None
            self._changed(session)
            return bank

    def list_banks(self) -> list[Bank]:
        with self._sessions() as session:
            return list(session.scalars(select(Bank).order_by(Bank.name)))

    def get_bank(self, name: str, session: Session | None = None) -> Bank:
        if session is None:
            with self._sessions() as own:
                return self.get_bank(name, own)
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

    def update_bank(self, name: str, **changes: Any) -> Bank:
        allowed = {"enabled", "kind", "description", "labels", "thresholds", "options"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot change {sorted(unknown)} on a bank; allowed: {sorted(allowed)}")
        if "kind" in changes and changes["kind"] not in ("block", "allow"):
            raise InvalidInput("bank kind must be 'block' or 'allow'")
        if "enabled" in changes and not isinstance(changes["enabled"], bool):
            raise InvalidInput("bank enabled must be true or false")
        if "labels" in changes and not isinstance(changes["labels"], dict):
            raise InvalidInput("bank labels must be a mapping of names to values")
        if "description" in changes and not isinstance(changes["description"], str):
            raise InvalidInput("bank description must be text")
        changes.update(self._checked(name, {k: changes[k] for k in ("thresholds", "options") if k in changes}))
        with self._sessions.begin() as session:
            bank = self.get_bank(name, session)
            for key, value in changes.items():
                setattr(bank, key, value)
            self._changed(session)
            return bank

    def rename_bank(self, name: str, new_name: str) -> Bank:
        """A new name for a bank (its items, ids and signals stay); exchanges filling it are the caller's to follow."""
        self.validate_name(new_name)
        with self._sessions.begin() as session:
            serialise_bank_writes(session)
            bank = self.get_bank(name, session)
            if new_name != name and session.scalar(select(Bank.id).where(Bank.name == new_name)) is not None:
                raise Conflict(f"bank {new_name!r} already exists; pick another name")
            bank.name = new_name
            self._changed(session)
            return bank

    def _checked(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        """Thresholds and options by the bank rules, or InvalidInput naming the rule broken."""
        try:
            if "thresholds" in values:
                values["thresholds"] = check_thresholds(values["thresholds"], self._registry.get)
            if "options" in values:
                values["options"] = check_options(values["options"])
        except (ValueError, InvalidInput) as exc:
            raise InvalidInput(f"bank {name!r} not saved: {exc}") from None
        return values

    def delete_bank(self, name: str) -> None:
        with self._sessions.begin() as session:
            serialise_bank_writes(session)
            bank = self.get_bank(name, session)
            item_ids = select(BankItem.id).where(BankItem.bank_id == bank.id)
            self._log_removed(session, select(SignalRow.id, SignalRow.type).where(SignalRow.item_id.in_(item_ids)))
            session.execute(delete(SignalRow).where(SignalRow.item_id.in_(item_ids)))
            session.execute(delete(BankItem).where(BankItem.bank_id == bank.id))
            session.delete(bank)
            self._changed(session)

    # -- items -----------------------------------------------------------
    def upsert_items(self, bank_name: str, items: Sequence[ItemUpsert], session: Session | None = None) -> list[str]:
        """Add or update items by external id; returns 'added' / 'updated' / 'unchanged' per item.

        Idempotent: re-running an interrupted import changes nothing already stored.
        A re-import never re-enables an item that was disabled.  Safe when several
        processes import overlapping ids at once: the bank write lock makes the read
        of existing items and the writes one step (rows written by :func:`upsert_rows`).
        """
        seen: set[str] = set()
        for item in items:
            if not item.external_id:
                raise InvalidInput("every bank item needs a non-empty id")
            if len(item.external_id) > MAX_EXTERNAL_ID:
                raise InvalidInput(f"item id {item.external_id[:40]!r}... is {len(item.external_id)} characters; "
                                   f"ids may have at most {MAX_EXTERNAL_ID}")
            if item.external_id in seen:
                raise InvalidInput(f"item id {item.external_id!r} appears twice in one batch")
            if item.opinions is not None and (len(item.opinions) != 2 or min(item.opinions) < 0):
                raise InvalidInput(f"item {item.external_id!r}: opinions must be two counts, 0 or more")
            seen.add(item.external_id)
        from crossmatch.flood.lowinfo import flag_items

        flag_items(list(items), self._min_quality)  # flat, lattice or poor hashes are flagged (flood guard)
        with transaction(self._sessions, session) as tx:
            serialise_bank_writes(tx)
            statuses = upsert_rows(tx.connection(), self.get_bank(bank_name, tx).id, items)
            self._changed(tx)
            return statuses

    def _min_quality(self, signal_type: str) -> float | None:
        try:
            return getattr(self._registry.get(signal_type), "min_quality", None)
        except Exception:  # noqa: BLE001 - an unknown type is refused elsewhere; no floor here
            return None

    def bulk_upsert(self, bank_name: str, items: Iterable[ItemUpsert], progress: Callable[[int], None] = lambda n: None,
                    error: Callable[[str, str], None] = lambda item, why: None) -> dict[str, int]:
        """Items in one transaction through a staging table (crossmatch/banks/bulk.py): the same
        rules as :meth:`upsert_items`, many times faster for large batches; a bad item is
        reported through ``error(item, reason)`` and the load goes on."""
        from crossmatch.banks.bulk import chunks, stage_from_items
        from crossmatch.flood.lowinfo import flag_items

        def staged() -> Iterator[list[tuple]]:
            for batch in chunks(items):
                kept = []
                for item in batch:
                    why = self._bad_id(item.external_id)
                    if why:
                        error(item.external_id[:80] or "(no id)", why)
                    else:
                        kept.append(item)
                yield stage_from_items(flag_items(kept, self._min_quality))

        return self._bulk(bank_name, staged(), progress)

    def bulk_load_rows(self, bank_name: str, blocks: Iterable["SignalRows"], progress: Callable[[int], None] = lambda n: None,
                       error: Callable[[str, str], None] = lambda item, why: None) -> dict[str, int]:
        """A hash list given as column blocks (:class:`crossmatch.banks.bulk.SignalRows`, one row per
        signal; rows sharing an id are one item), by the rules of :meth:`bulk_upsert`."""
        from crossmatch.banks.bulk import row_chunks, stage_from_rows
        from crossmatch.flood.lowinfo import LABEL, flag_rows

        def staged() -> Iterator[list[tuple]]:
            for rows in row_chunks(blocks):
                if max(map(len, rows.ids), default=0) > MAX_EXTERNAL_ID or "" in rows.ids:
                    wanted = []
                    for external_id in rows.ids:
                        why = self._bad_id(external_id)
                        if why:
                            error(external_id[:80] or "(no id)", why)
                        wanted.append(not why)
                    rows = rows.keep(wanted)
                yield stage_from_rows(rows, flag_rows(rows.ids, rows.types, rows.values), LABEL)

        return self._bulk(bank_name, staged(), progress)

    def _bulk(self, bank_name: str, staged: Iterable[list[tuple]], progress: Callable[[int], None]) -> dict[str, int]:
        from crossmatch.banks.bulk import bulk_load

        with self._sessions.begin() as session:
            serialise_bank_writes(session)
            counts = bulk_load(session.connection(), self.get_bank(bank_name, session).id, staged, progress)
            self._changed(session)
        return {"added": counts.added, "updated": counts.updated, "unchanged": counts.unchanged}

    @staticmethod
    def _bad_id(external_id: str) -> str | None:
        if not external_id:
            return "every bank item needs a non-empty id"
        if len(external_id) > MAX_EXTERNAL_ID:
            return f"item id is {len(external_id)} characters; ids may have at most {MAX_EXTERNAL_ID}"
        return None

    def list_items(self, bank_name: str, limit: int = 100, offset: int = 0) -> list[BankItem]:
        bank = self.get_bank(bank_name)
        with self._sessions() as session:
            query = select(BankItem).where(BankItem.bank_id == bank.id).order_by(BankItem.id).limit(limit).offset(offset)
            return list(session.scalars(query))

    def get_item(self, bank_name: str, external_id: str) -> tuple[BankItem, list[SignalRow]]:
        with self._sessions() as session:
            item = self._item(session, bank_name, external_id)
            signals = list(session.scalars(select(SignalRow).where(SignalRow.item_id == item.id).order_by(SignalRow.id)))
            return item, signals

    def set_item_enabled(self, bank_name: str, external_id: str, enabled: bool) -> None:
        """A curator's switch: the only way to enable an item again (sources can only disable)."""
        with self._sessions.begin() as session:
            serialise_bank_writes(session)
            item = self._item(session, bank_name, external_id)
            session.execute(update(BankItem).where(BankItem.id == item.id).values(enabled=enabled))
            self._changed(session)

    def disable_items(self, bank_name: str, external_ids: Sequence[str], session: Session | None = None) -> int:
        """Disable the named items that are enabled (e.g. removed at their source); returns how many."""
        disabled = 0
        with transaction(self._sessions, session) as tx:
            serialise_bank_writes(tx)
            bank_id = self.get_bank(bank_name, tx).id
            ids = list(dict.fromkeys(external_ids))
            for start in range(0, len(ids), 900):
                disabled += tx.execute(update(BankItem).where(
                    BankItem.bank_id == bank_id, BankItem.external_id.in_(ids[start : start + 900]),
                    BankItem.enabled.is_(True)).values(enabled=False)).rowcount or 0
            self._changed(tx)
        return disabled

    def delete_item(self, bank_name: str, external_id: str) -> None:
        with self._sessions.begin() as session:
            serialise_bank_writes(session)
            item = self._item(session, bank_name, external_id)
            self._log_removed(session, select(SignalRow.id, SignalRow.type).where(SignalRow.item_id == item.id))
            session.execute(delete(SignalRow).where(SignalRow.item_id == item.id))
            session.execute(delete(BankItem).where(BankItem.id == item.id))
            self._changed(session)

    def record_opinion(self, item_id: int, confirmed: bool, session: Session | None = None) -> None:
        """Feed a review decision back into the item's opinion counts."""
        column = BankItem.confirmed_count if confirmed else BankItem.rejected_count
        with transaction(self._sessions, session) as tx:
            serialise_bank_writes(tx)
            result = tx.execute(update(BankItem).where(BankItem.id == item_id).values({column: column + 1}))
            if result.rowcount == 0:
                raise NotFound(f"no bank item with id {item_id}")

    def _item(self, session: Session, bank_name: str, external_id: str) -> BankItem:
        bank = self.get_bank(bank_name, session)
        item = session.scalar(select(BankItem).where(BankItem.bank_id == bank.id, BankItem.external_id == external_id))
        if item is None:
            raise NotFound(f"bank {bank_name!r} has no item {external_id!r}")
        return item

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
        for rows in self._signal_batches(signal_type, batch, SignalRow.quality, _meta_text()):
            for sid, value, quality, meta in rows:
                yield sid, Signal(signal_type, value, quality, _meta(meta))

    def iter_signal_values(self, signal_type: str, batch: int = 50_000) -> Iterator[tuple[list[int], list[str]]]:
        """Every stored signal of a type as (ids, values) columns per batch, in id order: what an
        index that needs only values (:class:`~crossmatch.index.brute.ExactIndex`) builds from."""
        for rows in self._signal_batches(signal_type, batch):
            yield [row[0] for row in rows], [row[1] for row in rows]

    def _signal_batches(self, signal_type: str, batch: int, *more) -> Iterator[list]:
        last = 0
        while True:
            with self._sessions() as session:
                rows = session.connection().execute(
                    select(SignalRow.id, SignalRow.value, *more)
                    .where(SignalRow.type == signal_type, SignalRow.id > last)
                    .order_by(SignalRow.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def changes_since(self, signal_type: str, seq: int) -> tuple[list[tuple[int, Signal]], list[int], int]:
        """(signals added, signal ids removed, newest seq) for one type after ``seq``."""
        with self._sessions() as session:
            rows = session.execute(
                select(SignalChange.seq, SignalChange.signal_id, SignalChange.op, SignalRow.value, SignalRow.quality, _meta_text())
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
                    added[sid] = Signal(signal_type, value, quality, _meta(meta))
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


def _meta_text():
    """Signal meta as the stored JSON text: nearly all of it is ``{}``, which needs no JSON decoding."""
    return cast(SignalRow.meta, Text)


def _meta(text: str | None) -> dict[str, Any]:
    return {} if text is None or text == "{}" else (json.loads(text) or {})
