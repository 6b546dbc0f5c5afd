"""Keeps one index per signal type current with the store, in any process, without reader locks.

A process serves lookups from an immutable :class:`IndexVersion`: the enabled
banks and one :class:`~crossmatch.index.versions.LayeredIndex` per signal
type.  Readers take the current version (one reference read) and never lock.
A refresh asks the store for changes since the version's change number
(``signal_changes``), builds a new version with one more small layer, and
swaps the reference.  When the layers outgrow a share of the base, a
compaction rebuilds the base from the store (in a background thread in a
server) and swaps that in.

Indices load from a snapshot in the data directory when the type can save
itself, then catch up from the change log.  The change log never skips a
late commit (see :meth:`BankService.changes_since`), so a snapshot never
saves a gap.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, runtime_checkable

from crossmatch.banks.service import BankService
from crossmatch.index.versions import LayeredIndex
from crossmatch.signals.base import SignalIndex, SignalType
from crossmatch.signals.registry import SignalRegistry
from crossmatch.store.models import Bank

if TYPE_CHECKING:
    from crossmatch.index.snapshots import SnapshotPolicy

log = logging.getLogger(__name__)

# Compact when the layers hold more than this share of the base (and at least COMPACT_MIN entries).
COMPACT_SHARE = 0.05
COMPACT_MIN = 5_000
# On close, a persistent index whose layers hold this many entries is compacted and saved.
SNAPSHOT_EVERY = 20_000
READ_BATCH = 50_000


@runtime_checkable
class PersistentIndex(Protocol):
    def save(self, path: Path) -> None: ...


@dataclass(frozen=True)
class IndexVersion:
    """What one lookup reads: never changed after it is published."""

    seq: int
    generation: int
    banks: Mapping[int, Bank]  # enabled banks by id
    indexes: Mapping[str, LayeredIndex]
    checked_at: float  # monotonic time of the look at the store this version reflects


@dataclass
class _TypeState:
    saved_seq: int = -1  # the base_seq of the snapshot on disk (-1: none written by this process)
    compacting: threading.Thread | None = None


@dataclass
class VerifyReport:
    signal_type: str
    store: int
    index: int
    missing: list[int] = field(default_factory=list)  # in the store, not found by the index
    extra: int = 0  # live in the index, gone from the store
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra

    def to_json(self) -> dict[str, Any]:
        return {"signal_type": self.signal_type, "store": self.store, "index": self.index, "ok": self.ok,
                "missing": len(self.missing), "missing_sample": self.missing[:10], "extra": self.extra,
                "repaired": self.repaired}


class IndexManager:
    def __init__(
        self,
        banks: BankService,
        registry: SignalRegistry,
        index_dir: Path | None,
        min_refresh_seconds: float = 0.0,
        background_compaction: bool = False,
        snapshots: "SnapshotPolicy | None" = None,
    ) -> None:
        self._banks = banks
        self._registry = registry
        self._dir = index_dir
        self._min_refresh = min_refresh_seconds
        self._background = background_compaction
        # Shared snapshots (crossmatch/index/snapshots.py): who writes them, the build lease, mapped loads.
        self._snapshots = snapshots
        self._write = threading.RLock()  # refreshes, loads and compaction swaps; never taken by readers
        self._states: dict[str, _TypeState] = {}
        self._version = IndexVersion(-1, -1, {}, {}, -1e18)

    # -- what readers use ------------------------------------------------------------
    def current(self) -> IndexVersion:
        """The version to serve from, refreshed first when due.

        A change made through this process's BankService is always visible
        (read-your-writes: this call then waits for the refresh); other
        processes' changes within ``min_refresh_seconds``.  A refresh already
        running in another thread is not waited for.
        """
        version = self._version
        if self._banks.generation != version.generation:
            with self._write:
                self._refresh_locked(force=False)
            return self._version
        if time.monotonic() - version.checked_at >= self._min_refresh and self._write.acquire(blocking=False):
            try:
                self._refresh_locked(force=False)
            finally:
                self._write.release()
        return self._version

    def index(self, signal_type: str, version: IndexVersion | None = None) -> SignalIndex:
        """The index for a type in ``version`` (default: the current one), loaded on first use."""
        version = version or self.current()
        index = version.indexes.get(signal_type)
        if index is None:
            with self._write:
                if signal_type not in self._version.indexes:
                    self._publish(indexes={**self._version.indexes, signal_type: self._load(self._registry.get(signal_type))})
                index = self._version.indexes[signal_type]
        return index

    def refresh(self, force: bool = False) -> bool:
        """Apply changes made by any process; False when skipped (checked less than ``min_refresh_seconds`` ago)."""
        with self._write:
            return self._refresh_locked(force)

    @property
    def checked_at(self) -> float:
        return self._version.checked_at

    def sizes(self) -> dict[str, int]:
        """Live entries per loaded type (never loads an index just to count it)."""
        return {name: len(index) for name, index in self._version.indexes.items()}

    def layers(self) -> dict[str, dict[str, int]]:
        """Per loaded type: base size, layers, entries in layers, change numbers (for metrics and verify)."""
        return {name: {"base": len(ix.base), "layers": len(ix.layers), "layered": ix.layered_entries,
                       "seq": ix.seq, "base_seq": ix.base_seq} for name, ix in self._version.indexes.items()}

    # -- maintenance --------------------------------------------------------------------
    def save(self) -> None:
        """Write snapshots of persistent indices this process has not saved yet (on close)."""
        self._wait_for_compactions()
        with self._write:
            for name, index in self._version.indexes.items():
                if not isinstance(index.base, PersistentIndex):
                    continue
                if index.layered_entries >= SNAPSHOT_EVERY:
                    index = self._compact_now(name)
                if index.base_seq > self._state(name).saved_seq:
                    self._snapshot(name, index)

    def compact(self, signal_type: str | None = None) -> None:
        """Fold every layer into a new base now (all loaded types, or one)."""
        self._wait_for_compactions()
        with self._write:
            for name in [signal_type] if signal_type else list(self._version.indexes):
                if name in self._version.indexes:
                    self._compact_now(name)

    def verify(self, signal_types: list[str] | None = None, repair: bool = False,
               progress: Callable[[int], None] | None = None) -> list[VerifyReport]:
        """Compare each index (as loaded from its snapshot and caught up) with the store.

        ``repair`` rebuilds a type whose index disagrees from the store and writes a new snapshot.
        """
        names = signal_types or [n for n in self._registry.names() if self._banks.count_signals(n)]
        reports = []
        for name in names:
            self.refresh(force=True)
            index = self.index(name)
            report = VerifyReport(name, store=0, index=len(index))
            for signal_id, _ in self._banks.iter_signals(name, batch=READ_BATCH):
                report.store += 1
                if signal_id not in index:
                    report.missing.append(signal_id)
                if progress is not None:
                    progress(1)
            report.extra = max(0, report.index - (report.store - len(report.missing)))
            if repair and not report.ok:
                with self._write:
                    self._publish(indexes={**self._version.indexes, name: self._build_from_store(self._registry.get(name))})
                    self._snapshot(name, self._version.indexes[name])
                report.repaired = True
            reports.append(report)
        return reports

    # -- internals --------------------------------------------------------------------
    def _state(self, name: str) -> _TypeState:
        return self._states.setdefault(name, _TypeState())

    def _publish(self, **changes: Any) -> None:
        self._version = replace(self._version, **changes)

    def _refresh_locked(self, force: bool) -> bool:
        now = time.monotonic()
        own_change = self._banks.generation != self._version.generation
        if not force and not own_change and now - self._version.checked_at < self._min_refresh:
            return False
        generation = self._banks.generation  # read before the store: a later change bumps it again
        latest = self._banks.latest_change()
        indexes = dict(self._version.indexes)
        for name, index in indexes.items():
            if latest > index.seq:
                added, removed, newest = self._banks.changes_since(name, index.seq)
                fast = self._registry.get(name)
                indexes[name] = index.with_changes(added, removed, max(newest, latest), lambda t=fast: _empty_index(t))
        banks = {bank.id: bank for bank in self._banks.list_banks() if bank.enabled}
        self._version = IndexVersion(max(latest, self._version.seq), generation, banks, indexes, now)
        for name, index in indexes.items():
            if _due_for_compaction(index):
                self._start_compaction(name)
        return True

    def _start_compaction(self, name: str) -> None:
        if not self._background:
            self._compact_now(name)
            return
        state = self._state(name)
        if state.compacting is not None and state.compacting.is_alive():
            return
        state.compacting = threading.Thread(target=self._compact_in_background, args=(name,),
                                            name=f"compact-{name}", daemon=True)
        state.compacting.start()

    def _compact_in_background(self, name: str) -> None:
        try:
            base = self._build_from_store(self._registry.get(name))  # the long part: no lock held
            with self._write:
                self._install_base(name, base)
        except Exception:  # a failed compaction leaves the serving version as it was
            log.exception("compacting the %s index failed; it keeps serving from its layers", name)

    def _compact_now(self, name: str) -> LayeredIndex:
        self._install_base(name, self._build_from_store(self._registry.get(name)))
        return self._version.indexes[name]

    def _install_base(self, name: str, base: LayeredIndex) -> None:
        """Swap in a rebuilt base, with the changes committed since it was read as a layer."""
        latest = max(self._version.seq, self._banks.latest_change())
        added, removed, newest = self._banks.changes_since(name, base.seq)
        fresh = base.with_changes(added, removed, max(newest, latest), lambda: _empty_index(self._registry.get(name)))
        self._publish(indexes={**self._version.indexes, name: fresh})

    def _wait_for_compactions(self) -> None:
        for state in self._states.values():
            if state.compacting is not None:
                state.compacting.join()

    def _paths(self, name: str) -> tuple[Path, Path] | None:
        if self._dir is None:
            return None
        return self._dir / f"{name}.index", self._dir / f"{name}.index.json"

    def _load(self, signal_type: SignalType) -> LayeredIndex:
        snapshot = self._load_snapshot(signal_type)
        if snapshot is None and self._snapshots is not None and isinstance(signal_type.fast_index(), PersistentIndex):
            snapshot, built = self._first_snapshot(signal_type)
            if built is not None:
                return built
        if snapshot is None:
            return self._build_from_store(signal_type)
        base, seq = snapshot
        self._state(signal_type.name).saved_seq = seq
        layered = LayeredIndex(base, seq=seq, base_seq=seq)
        added, removed, newest = self._banks.changes_since(signal_type.name, seq)
        return layered.with_changes(added, removed, max(newest, seq), lambda: _empty_index(signal_type))

    def _first_snapshot(self, signal_type: SignalType) -> tuple[tuple[SignalIndex, int] | None, LayeredIndex | None]:
        """No snapshot yet: a publisher builds and writes one under the type's lease; everyone
        else (and a publisher that finds the lease taken) waits for it, so no two processes
        build the same snapshot at once.  (snapshot loaded, or index built here)."""
        policy = self._snapshots
        assert policy is not None
        name = signal_type.name
        deadline = time.monotonic() + policy.wait_s
        while True:
            if policy.publish:
                lease = policy.lease(name)
                if lease.acquire():
                    try:
                        snapshot = self._load_snapshot(signal_type)  # published while we asked for the lease
                        if snapshot is not None:
                            return snapshot, None
                        built = self._build_from_store(signal_type)
                        self._snapshot(name, built)
                        return None, built
                    finally:
                        lease.release()
            if time.monotonic() >= deadline:
                log.warning("no %s snapshot appeared in %.0f s; building the index from the store in this process",
                            name, policy.wait_s)
                return None, None
            time.sleep(policy.poll_s)
            snapshot = self._load_snapshot(signal_type)
            if snapshot is not None:
                return snapshot, None

    def publish(self, signal_types: list[str] | None = None) -> dict[str, int]:
        """Compact and write a fresh snapshot of each type under its lease (the publisher's job).

        Returns the change number each written snapshot holds (types whose lease another
        process holds are skipped)."""
        written: dict[str, int] = {}
        names = signal_types or [n for n in self._registry.names() if self._banks.count_signals(n)]
        for name in names:
            if not isinstance(self._registry.get(name).fast_index(), PersistentIndex):
                continue
            self.index(name)  # loaded (or first built, under its own lease) before this lease is taken
            lease = self._snapshots.lease(name) if self._snapshots is not None else None
            if lease is not None and not lease.acquire():
                continue
            try:
                self.refresh(force=True)
                with self._write:
                    index = self._compact_now(name)
                    self._snapshot(name, index, force=True)
                written[name] = index.base_seq
            finally:
                if lease is not None:
                    lease.release()
        return written

    def _load_snapshot(self, signal_type: SignalType) -> tuple[SignalIndex, int] | None:
        paths = self._paths(signal_type.name)
        fast = signal_type.fast_index()
        loader = getattr(type(fast), "load", None) if fast is not None else None
        if paths is None or loader is None or not paths[1].exists():
            return None
        try:
            meta = json.loads(paths[1].read_text())
            data = paths[0].with_name(meta["file"]) if "file" in meta else paths[0]
            # A snapshot newer than the store belongs to another database: ignore it.
            if int(meta.get("seq", 0)) > self._banks.latest_change() or not data.exists():
                return None
            mapped = getattr(type(fast), "load_mapped", None) if self._snapshots is not None else None
            snapshot = (mapped or loader)(data)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # a damaged snapshot is rebuilt from the store
        # A snapshot made for another embedding model is rebuilt: the store's signals say which model made each.
        if getattr(snapshot, "model_id", None) != getattr(fast, "model_id", None):
            return None
        return snapshot, int(meta["seq"])

    def _build_from_store(self, signal_type: SignalType) -> LayeredIndex:
        # Take the change number first: changes racing with the full read are re-applied, harmlessly.
        latest = self._banks.latest_change()
        index = _empty_index(signal_type)
        add_values = getattr(index, "add_values", None)
        if add_values is not None:  # an index of values alone: no Signal object per stored row
            for ids, values in self._banks.iter_signal_values(signal_type.name, batch=READ_BATCH):
                add_values(ids, values)
        else:
            batch: list = []
            for entry in self._banks.iter_signals(signal_type.name, batch=READ_BATCH):
                batch.append(entry)
                if len(batch) >= READ_BATCH:
                    index.add(batch)
                    batch = []
            if batch:
                index.add(batch)
        compact = getattr(index, "compact", None)
        if compact is not None:
            compact()  # published bases are never changed again
        return LayeredIndex(index, seq=latest, base_seq=latest)

    def _snapshot(self, name: str, index: LayeredIndex, force: bool = False) -> None:
        """Write the base under a name carrying its change number, then point the meta file at it.

        Several processes may save at once: each data file is complete before the
        (atomically replaced) meta names it, so a reader never pairs a file with
        another file's change number.
        """
        paths = self._paths(name)
        if paths is None or not isinstance(index.base, PersistentIndex):
            return
        if self._snapshots is not None and not self._snapshots.publish and not force:
            return  # a replica never writes to the shared directory: one process publishes
        directory = paths[0].parent
        directory.mkdir(parents=True, exist_ok=True)
        data = directory / f"{name}.index.{index.base_seq}.{os.getpid()}"
        index.base.save(data)
        tmp = paths[1].with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"seq": index.base_seq, "size": len(index.base), "file": data.name}))
        os.replace(tmp, paths[1])
        self._state(name).saved_seq = index.base_seq
        _remove_old_snapshots(directory, name, keep=data.name)


def _empty_index(signal_type: SignalType) -> SignalIndex:
    fast = signal_type.fast_index()
    return fast if fast is not None else signal_type.brute_force_index()


def _due_for_compaction(index: LayeredIndex) -> bool:
    return index.layered_entries > max(COMPACT_MIN, COMPACT_SHARE * len(index.base))


def _remove_old_snapshots(directory: Path, name: str, keep: str) -> None:
    """Old data files of a type, except the newest other one (a process may be loading it now)."""
    files = sorted(directory.glob(f"{name}.index.*.*"), key=lambda p: p.stat().st_mtime if p.exists() else 0)
    stale = [p for p in files if p.name != keep and not p.name.endswith((".json", ".tmp"))]
    for path in stale[:-1]:
        path.unlink(missing_ok=True)
    (directory / f"{name}.index").unlink(missing_ok=True)  # the single-file layout of earlier versions
