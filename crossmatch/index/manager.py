"""Keeps one index per signal type current with the store, in any process.

Indices are loaded from a snapshot in the data directory (when the index type
can save itself), then brought up to date from the ``signal_changes`` log.
Before lookups a process asks the store for the newest change number (one
indexed query) and applies only what it has not seen, so a bank item added by
the CLI is matchable by a running server without a restart or a rebuild.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from crossmatch.banks.service import BankService
from crossmatch.signals.base import SignalIndex, SignalType
from crossmatch.signals.registry import SignalRegistry

# Snapshot after this many changes were applied since the last save.
SNAPSHOT_EVERY = 20_000


@runtime_checkable
class PersistentIndex(Protocol):
    def save(self, path: Path) -> None: ...


@dataclass
class _Loaded:
    index: SignalIndex
    seq: int
    unsaved: int = 0


class IndexManager:
    def __init__(
        self,
        banks: BankService,
        registry: SignalRegistry,
        index_dir: Path | None,
        min_refresh_seconds: float = 0.0,
    ) -> None:
        self._banks = banks
        self._registry = registry
        self._dir = index_dir
        self._loaded: dict[str, _Loaded] = {}
        self._min_refresh = min_refresh_seconds
        self.checked_at = 0.0  # monotonic time of the last look at the store
        self._known_seq = -1
        self._generation = -1

    def index(self, signal_type: str) -> SignalIndex:
        """The up-to-date index for a type (loaded on first use)."""
        loaded = self._loaded.get(signal_type)
        if loaded is None:
            loaded = self._load(self._registry.get(signal_type))
            self._loaded[signal_type] = loaded
            self._catch_up(signal_type, loaded)  # later changes arrive through refresh()
        return loaded.index

    def refresh(self, force: bool = False) -> bool:
        """Apply changes made by any process since the last check.

        Returns False when skipped because the last check is younger than
        ``min_refresh_seconds`` (a server checks at most that often).
        """
        now = time.monotonic()
        own_change = self._banks.generation != self._generation
        if not force and not own_change and now - self.checked_at < self._min_refresh:
            return False
        self.checked_at = now
        self._generation = self._banks.generation
        latest = self._banks.latest_change()
        if latest != self._known_seq:
            self._known_seq = latest
            for name, loaded in self._loaded.items():
                self._catch_up(name, loaded, latest)
        return True

    def save(self) -> None:
        """Write snapshots of persistent indices that have unsaved changes."""
        for name, loaded in self._loaded.items():
            if loaded.unsaved and isinstance(loaded.index, PersistentIndex):
                self._snapshot(name, loaded)

    def sizes(self) -> dict[str, int]:
        return {name: len(loaded.index) for name, loaded in self._loaded.items()}

    # -- internals ---------------------------------------------------------
    def _catch_up(self, name: str, loaded: _Loaded, latest: int | None = None) -> None:
        if latest is not None and latest <= loaded.seq:
            return
        added, removed, newest = self._banks.changes_since(name, loaded.seq)
        if removed:
            loaded.index.remove(removed)
        if added:
            loaded.index.add(added)
        loaded.unsaved += len(added) + len(removed)
        loaded.seq = max(newest, latest or 0)
        if loaded.unsaved >= SNAPSHOT_EVERY and isinstance(loaded.index, PersistentIndex):
            self._snapshot(name, loaded)

    def _paths(self, name: str) -> tuple[Path, Path] | None:
        if self._dir is None:
            return None
        return self._dir / f"{name}.index", self._dir / f"{name}.index.json"

    def _load(self, signal_type: SignalType) -> _Loaded:
        paths = self._paths(signal_type.name)
        latest = self._banks.latest_change()
        fast = signal_type.fast_index()
        if paths and fast is not None and paths[0].exists() and paths[1].exists():
            meta = json.loads(paths[1].read_text())
            loader = getattr(type(fast), "load", None)
            # A snapshot newer than the store belongs to another database: ignore it.
            if loader is not None and meta.get("seq", 0) <= latest:
                try:
                    snapshot = loader(paths[0])
                    # A snapshot made for another embedding model is rebuilt: the store's signals say which model made each.
                    if getattr(snapshot, "model_id", None) == getattr(fast, "model_id", None):
                        return _Loaded(snapshot, int(meta["seq"]))
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                    pass  # a damaged snapshot is rebuilt from the store below
        index = fast if fast is not None else signal_type.brute_force_index()
        # Take the change number first: changes racing with the full read are re-applied, harmlessly.
        batch: list = []
        for entry in self._banks.iter_signals(signal_type.name):
            batch.append(entry)
            if len(batch) >= 50_000:
                index.add(batch)
                batch = []
        if batch:
            index.add(batch)
        loaded = _Loaded(index, latest, unsaved=len(index))
        return loaded

    def _snapshot(self, name: str, loaded: _Loaded) -> None:
        paths = self._paths(name)
        if paths is None:
            return
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        loaded.index.save(paths[0])  # type: ignore[attr-defined]
        tmp = paths[1].with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": loaded.seq, "size": len(loaded.index)}))
        os.replace(tmp, paths[1])
        loaded.unsaved = 0
