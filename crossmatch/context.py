"""Builds the one engine and the services around it from a Settings object.

The CLI, the API server and tests call :func:`open_context`; it is the only
place that wires the store, the plugins and the indices together.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import sessionmaker

from crossmatch.banks.service import BankService
from crossmatch.engine import Engine
from crossmatch.hashing import HashPool
from crossmatch.index.manager import IndexManager
from crossmatch.index.snapshots import SnapshotPolicy
from crossmatch.settings import Settings
from crossmatch.signals.base import Extractor
from crossmatch.signals.registry import RegistryError, SignalRegistry
from crossmatch.store.db import make_engine, migrate, session_factory

EXTRACTOR_GROUP = "crossmatch.extractors"


@dataclass
class Context:
    settings: Settings
    db: DbEngine
    sessions: sessionmaker
    banks: BankService
    registry: SignalRegistry
    indexes: IndexManager
    engine: Engine
    pool: HashPool | None = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.indexes.save()
        self.db.dispose()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_extractors(settings: Settings) -> list[Extractor]:
    """Extractor plugins (e.g. OCR); each entry point names ``create(settings) -> Extractor | None``.

    A factory returns None when its tool is not installed (e.g. no tesseract),
    so the deep pass simply runs without it; import errors are not swallowed.
    """
    extractors: list[Extractor] = []
    names: set[str] = set()
    for ep in entry_points(group=EXTRACTOR_GROUP):
        if ep.name in names:
            raise RegistryError(f"extractor {ep.name!r} is provided by two plugins")
        names.add(ep.name)
        extractor = ep.load()(settings)
        if extractor is not None:
            extractors.append(extractor)
    return extractors


def open_context(settings: Settings, min_refresh_seconds: float = 0.0, serving: bool = False) -> Context:
    """``serving``: a long-lived server process: hashing in a process pool of
    ``settings.pool_processes`` workers, index compaction in the background."""
    db = make_engine(settings)
    migrate(db)
    sessions = session_factory(db)
    registry = SignalRegistry.from_entry_points(settings)
    banks = BankService(sessions, registry)
    scale = settings.scale
    snapshots = SnapshotPolicy(sessions, publish=scale.publish_snapshots, lease_s=scale.snapshot_lease_s, wait_s=scale.snapshot_wait_s)
    indexes = IndexManager(banks, registry, settings.index_dir, min_refresh_seconds, background_compaction=serving,
                           snapshots=snapshots)
    pool = HashPool(settings, registry, settings.pool_processes) if serving else None
    engine = Engine(settings, banks, registry, indexes, load_extractors(settings), pool=pool)
    return Context(settings, db, sessions, banks, registry, indexes, engine, pool)
