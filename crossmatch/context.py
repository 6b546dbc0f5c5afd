"""Builds the one engine and the services around it from a Settings object.

The CLI, the API server and tests call :func:`open_context`; it is the only
place that wires the store, the plugins and the indices together.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import sessionmaker

from crossmatch.banks.service import BankService
from crossmatch.settings import Settings
from crossmatch.signals.base import Extractor
from crossmatch.signals.registry import RegistryError, SignalRegistry
from crossmatch.store.db import make_engine, migrate, session_factory

if TYPE_CHECKING:  # imported when first used: a command that only reads the store (`bank list`)
    from crossmatch.engine import Engine  # should not pay for numpy, the indices and the plugins
    from crossmatch.hashing import HashPool
    from crossmatch.index.manager import IndexManager

EXTRACTOR_GROUP = "crossmatch.extractors"


class Context:
    """The store and its services; the matching engine, its indices and its hashing pool are
    built on first use, so commands that never match start in about half the time."""

    def __init__(self, settings: Settings, db: DbEngine, sessions: sessionmaker, banks: BankService,
                 registry: SignalRegistry, min_refresh_seconds: float = 0.0, serving: bool = False) -> None:
        self.settings, self.db, self.sessions, self.banks, self.registry = settings, db, sessions, banks, registry
        self._min_refresh_seconds = min_refresh_seconds
        self._serving = serving

    @cached_property
    def indexes(self) -> "IndexManager":
        from crossmatch.index.manager import IndexManager
        from crossmatch.index.snapshots import SnapshotPolicy

        scale = self.settings.scale
        snapshots = SnapshotPolicy(self.sessions, publish=scale.publish_snapshots, lease_s=scale.snapshot_lease_s,
                                   wait_s=scale.snapshot_wait_s)
        return IndexManager(self.banks, self.registry, self.settings.index_dir, self._min_refresh_seconds,
                            background_compaction=self._serving, snapshots=snapshots)

    @cached_property
    def pool(self) -> "HashPool | None":
        """Servers hash in a process pool of ``settings.pool_processes`` workers; others in-process."""
        if not self._serving:
            return None
        from crossmatch.hashing import HashPool

        return HashPool(self.settings, self.registry, self.settings.pool_processes)

    @cached_property
    def engine(self) -> "Engine":
        from crossmatch.engine import Engine

        return Engine(self.settings, self.banks, self.registry, self.indexes, load_extractors(self.settings),
                      pool=self.pool)

    def close(self) -> None:
        built = self.__dict__  # close only what was built: closing must not build anything
        if built.get("pool") is not None:
            built["pool"].close()
        if "indexes" in built:
            built["indexes"].save()
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
    return Context(settings, db, sessions, banks, registry, min_refresh_seconds, serving)
