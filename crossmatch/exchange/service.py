"""Exchange service: configure exchanges, build their sources, run syncs.

Used alike by the CLI, the server's scheduler and tests.  Kinds:
``file`` (CSV / JSONL hash list), ``stix`` (STIX 2.1 bundle file) and ``pytx``
(any python-threatexchange exchange: fb_threatexchange, ncmec, stop_ncii,
tat, local_file, sample).
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import delete, select, update

from crossmatch.context import Context
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.exchange.base import Source
from crossmatch.exchange.models import Exchange, ExchangeItem
from crossmatch.exchange.sync import Syncer, SyncReport

KINDS = ("file", "stix", "pytx")


def build_source(exchange: Exchange, registry: Any = None) -> Source:
    """The exchange's source; ``registry`` lets pytx sources hash raw_text records as text_near."""
    config = exchange.config or {}
    if exchange.kind == "file":
        from crossmatch.exchange.file_source import BATCH, FileSource

        return FileSource(exchange.name, _required(config, "path", exchange.name), config.get("format"), int(config.get("batch", BATCH)))
    if exchange.kind == "stix":
        from crossmatch.exchange.stix_io import StixSource

        return StixSource(exchange.name, _required(config, "path", exchange.name))
    if exchange.kind == "pytx":
        from crossmatch.exchange.pytx import PytxSource, text_near_hasher

        return PytxSource.from_config(exchange.name, config, text_near_hasher(registry) if registry is not None else None)
    raise InvalidInput(f"exchange kind {exchange.kind!r} is not known; use one of {', '.join(KINDS)}")


def _required(config: dict[str, Any], key: str, name: str) -> str:
    value = config.get(key)
    if not value:
        raise InvalidInput(f"exchange {name!r} needs config {key}=...; see `crossmatch exchange add --help`")
    return str(value)


class ExchangeService:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._sessions = ctx.sessions

    def add(self, name: str, kind: str, bank: str, config: dict[str, Any], interval_seconds: int = 3600,
            enabled: bool = True) -> Exchange:
        self._ctx.banks.validate_name(name)
        if kind not in KINDS:
            raise InvalidInput(f"exchange kind {kind!r} is not known; use one of {', '.join(KINDS)}")
        self._ctx.banks.get_bank(bank)  # the bank must exist first
        row = Exchange(name=name, kind=kind, bank_name=bank, config=config, enabled=enabled,
                       interval_seconds=interval_seconds, run=0)
        build_source(row, self._ctx.registry)  # fail now, not at the first scheduled sync
        with self._sessions.begin() as session:
            if session.scalar(select(Exchange.id).where(Exchange.name == name)) is not None:
                raise Conflict(f"exchange {name!r} already exists; pick another name or `crossmatch exchange remove {name}`")
            session.add(row)
        return row

    def list(self) -> list[Exchange]:
        with self._sessions() as session:
            return list(session.scalars(select(Exchange).order_by(Exchange.name)))

    def get(self, name: str) -> Exchange:
        with self._sessions() as session:
            row = session.scalar(select(Exchange).where(Exchange.name == name))
            if row is None:
                raise NotFound(f"no exchange named {name!r}; see `crossmatch exchange list`")
            return row

    def update(self, name: str, **changes: Any) -> Exchange:
        allowed = {"enabled", "interval_seconds", "config"}
        if set(changes) - allowed:
            raise InvalidInput(f"cannot change {sorted(set(changes) - allowed)}; allowed: {sorted(allowed)}")
        row = self.get(name)
        with self._sessions.begin() as session:
            session.execute(update(Exchange).where(Exchange.id == row.id).values(**changes))
        return self.get(name)

    def reset(self, name: str) -> None:
        """Forget the checkpoint: the next sync reads the source from the start."""
        row = self.get(name)
        with self._sessions.begin() as session:
            session.execute(update(Exchange).where(Exchange.id == row.id).values(checkpoint=None))

    def remove(self, name: str) -> None:
        """Forget the exchange and its mapping; bank items stay (disable or delete them in the bank)."""
        row = self.get(name)
        with self._sessions.begin() as session:
            session.execute(delete(ExchangeItem).where(ExchangeItem.exchange_id == row.id))
            session.execute(delete(Exchange).where(Exchange.id == row.id))

    def item_sources(self, bank: str, external_id: str) -> list[dict[str, Any]]:
        """Which exchanges supplied a bank item, with the labels each sent."""
        with self._sessions() as session:
            rows = session.execute(select(Exchange.name, ExchangeItem).join(Exchange, Exchange.id == ExchangeItem.exchange_id)
                                   .where(Exchange.bank_name == bank, ExchangeItem.external_id == external_id)).all()
        return [{"exchange": n, "key": r.source_key, "labels": r.labels, "deleted": r.deleted} for n, r in rows]

    def sync(self, name: str, progress: Callable[[int], None] = lambda n: None, max_deltas: int | None = None,
             source: Source | None = None) -> SyncReport:
        row = self.get(name)
        syncer = Syncer(self._sessions, self._ctx.banks, self._ctx.registry)
        return syncer.run(row, source or build_source(row, self._ctx.registry), progress, max_deltas)
