"""The fast, exact, persistent PDQ index.

Hashes live in two segments:

* the **base**: an immutable array with multi-index-hashing tables
  (:mod:`crossmatch.index.mih`), built when the tail is merged in;
* the **tail**: hashes added since, scanned exhaustively, so an added hash is
  matchable the moment ``add`` returns.

Removal marks rows dead (a tombstone mask); re-adding an id replaces it.  The
tail is merged into the base (one rebuild of the tables) once it outgrows
1/64 of the base, capped at 65,536 hashes so scanning it stays cheap; the base
is also rebuilt when a quarter of it is dead.  Merges run on the next lookup
or save, so a bulk load of many ``add`` calls builds the tables once.  A change is therefore never a
rebuild by itself: at 10M hashes one merge per 65,536 adds, a few tenths of a
millisecond per add amortised.  Every lookup is exact: MIH by pigeonhole plus
full verification, or an exhaustive popcount scan when that is estimated to
be cheaper (large thresholds, small segments).

>>> idx = PdqIndex()
>>> idx.add([(7, Signal("pdq", "f" * 64))])
>>> [(h.signal_id, h.distance) for h in idx.query(Signal("pdq", "f" * 63 + "e"), 31)]
[(7, 1.0)]
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np

from crossmatch.index import hamming, mih
from crossmatch.signals.base import IndexHit, InvalidSignal, Signal

FORMAT_VERSION = 1
MIN_TAIL_LIMIT = 4096
MAX_TAIL_LIMIT = 65536  # a 64k-hash scan costs ~0.1 ms per query
MAX_DEAD_FRACTION = 0.25
DEFAULT_THRESHOLD = 31  # PDQ's usual match threshold: the one the MIH layout is tuned for
MIN_QUERIES_PER_THREAD = 32


class _Segment:
    """Hashes as (n, 4) uint64 words, their ids, a live mask and optional MIH tables."""

    def __init__(self, words: np.ndarray, ids: np.ndarray, alive: np.ndarray, tables: mih.MultiIndexTable | None):
        self.words = words
        self.ids = ids
        self.alive = alive
        self.tables = tables
        self.id_order = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.id_order]
        self.n_alive = int(alive.sum())

    @classmethod
    def build(cls, words: np.ndarray, ids: np.ndarray) -> "_Segment":
        n = len(words)
        tables = None
        layout = [length for _, length in mih.split_bits(mih.choose_substrings(n))] if n else []
        if n and mih.estimated_cost(layout, DEFAULT_THRESHOLD, n) < n * mih.SCAN_COST:
            tables = mih.MultiIndexTable.build(words)
        return cls(words, ids, np.ones(n, dtype=bool), tables)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows holding any of ``ids`` (live or dead)."""
        ids = np.unique(ids)
        pos = np.searchsorted(self.sorted_ids, ids)
        inside = pos < len(self.sorted_ids)
        pos, ids = pos[inside], ids[inside]
        return self.id_order[pos[self.sorted_ids[pos] == ids]]

    def kill(self, ids: np.ndarray) -> None:
        rows = self.rows_of(ids)
        rows = rows[self.alive[rows]]
        self.alive[rows] = False
        self.n_alive -= len(rows)

    def search(self, query_words: np.ndarray, threshold: int, threads: int):
        """(query index, id, distance) of live rows within threshold."""
        use_mih = (
            self.tables is not None
            and self.tables.estimated_cost(threshold) < len(self.words) * mih.SCAN_COST
            and self.tables.max_radius(threshold) <= mih.MAX_RADIUS
        )
        if use_mih:
            qi, rows, d = _in_threads(self.tables.search, query_words, threshold, threads)
        else:
            qi, rows, d = _in_threads(lambda q, t: hamming.scan(q, self.words, t), query_words, threshold, threads)
        live = self.alive[rows]
        return qi[live], self.ids[rows[live]], d[live]


def _in_threads(search, query_words: np.ndarray, threshold: int, threads: int):
    """Split a batch over threads (the MIH kernel releases the GIL)."""
    parts = min(threads, len(query_words) // MIN_QUERIES_PER_THREAD)
    if parts <= 1:
        return search(query_words, threshold)
    bounds = np.linspace(0, len(query_words), parts + 1).astype(int)
    with ThreadPoolExecutor(parts) as pool:
        results = list(pool.map(lambda lo_hi: search(query_words[lo_hi[0] : lo_hi[1]], threshold),
                                zip(bounds[:-1], bounds[1:])))
    return tuple(np.concatenate([r[k] + (bounds[i] if k == 0 else 0) for i, r in enumerate(results)])
                 for k in range(3))


def _empty_words(n: int) -> np.ndarray:
    return np.empty((n, 4), dtype=np.uint64)


class _Tail:
    """Recently added hashes in growable arrays; searched by exhaustive scan."""

    def __init__(self, capacity: int = 1024) -> None:
        self.words = _empty_words(capacity)
        self.ids = np.empty(capacity, np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.n = 0

    def append(self, words: np.ndarray, ids: np.ndarray) -> None:
        end = self.n + len(ids)
        if end > len(self.ids):  # grow by doubling: bulk loads append in amortised O(1)
            size = max(end, 2 * len(self.ids))
            for name in ("words", "ids", "alive"):
                old = getattr(self, name)
                grown = np.zeros((size,) + old.shape[1:], dtype=old.dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)
        self.words[self.n : end] = words
        self.ids[self.n : end] = ids
        self.alive[self.n : end] = True
        self.n = end

    def kill(self, ids: np.ndarray) -> None:
        self.alive[: self.n] &= ~np.isin(self.ids[: self.n], ids)

    @property
    def n_alive(self) -> int:
        return int(self.alive[: self.n].sum())

    def search(self, query_words: np.ndarray, threshold: int):
        """(query index, id, distance) of live rows within threshold."""
        qi, rows, d = hamming.scan(query_words, self.words[: self.n], threshold)
        live = self.alive[rows]
        return qi[live], self.ids[rows[live]], d[live]


class PdqIndex:
    """Exact Hamming range search over 256-bit PDQ hashes, keyed by signal id.

    Implements :class:`crossmatch.signals.base.SignalIndex`; returns exactly the
    brute-force result set at any threshold.  Lookups may run concurrently;
    changes (add, remove) must not overlap with anything else.

    Merging the tail into the base happens on the next lookup or save after
    the tail outgrows its limit, not inside ``add``: a bulk load made of many
    ``add`` calls then builds the tables once instead of once per call.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads or min(2, os.cpu_count() or 1)
        # (base, tail), swapped as one so a concurrent lookup never sees a half-merged pair.
        self._segments = (_Segment.build(_empty_words(0), np.empty(0, np.int64)), _Tail())
        self._merge_lock = threading.Lock()

    @property
    def _base(self) -> _Segment:
        return self._segments[0]

    # -- changes ---------------------------------------------------------
    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        entries = list(entries)
        try:
            hashes = hamming.hex_to_bytes([signal.value for _, signal in entries])
        except ValueError as exc:
            raise InvalidSignal(str(exc)) from None
        self.add_hashes(np.array([i for i, _ in entries], dtype=np.int64), hashes)

    def add_hashes(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Bulk add: ``hashes`` is (n, 32) uint8 in hex byte order; a known id is replaced."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        words = hamming.to_words(hamming.as_hash_rows(hashes))
        if len(ids) != len(words):
            raise ValueError(f"{len(ids)} ids for {len(words)} hashes")
        if len(ids) == 0:
            return
        # Within one call the last occurrence of an id wins, as in a dict.
        _, last_from_end = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last_from_end)
        ids, words = ids[keep], words[keep]
        self.remove(ids)
        self._segments[1].append(words, ids)

    def remove(self, signal_ids: Iterable[int]) -> None:
        ids = np.asarray(signal_ids if isinstance(signal_ids, np.ndarray) else list(signal_ids), dtype=np.int64)
        if len(ids) == 0:
            return
        base, tail = self._segments
        base.kill(ids)
        tail.kill(ids)

    def compact(self) -> None:
        """Merge the tail into the base now (otherwise done when a lookup finds it due)."""
        with self._merge_lock:
            self._merge()

    def _merge_due(self) -> bool:
        base, tail = self._segments
        tail_limit = np.clip(len(base.words) // 64, MIN_TAIL_LIMIT, MAX_TAIL_LIMIT)
        return tail.n > tail_limit or len(base.words) - base.n_alive > MAX_DEAD_FRACTION * len(base.words)

    def _merge_if_due(self) -> None:
        if self._merge_due():
            with self._merge_lock:
                if self._merge_due():
                    self._merge()

    def _merge(self) -> None:
        """Build a new base from the live rows of the base and the tail."""
        base, tail = self._segments
        live = tail.alive[: tail.n]
        words = np.concatenate([base.words[base.alive], tail.words[: tail.n][live]])
        ids = np.concatenate([base.ids[base.alive], tail.ids[: tail.n][live]])
        # The old pair stays in use until the new base is complete (a failed build changes
        # nothing); the cost is holding both sets of tables for a moment.
        self._segments = (_Segment.build(words, ids), _Tail())

    # -- lookups ---------------------------------------------------------
    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        try:
            hashes = hamming.hex_to_bytes([signal.value])
        except ValueError as exc:
            raise InvalidSignal(str(exc)) from None
        return [IndexHit(i, distance=float(d)) for i, d in self.query_many(hashes, threshold)[0]]

    def query_many(self, hashes: np.ndarray, threshold: float) -> list[list[tuple[int, int]]]:
        """Per query row of (n, 32) uint8 hashes: [(signal id, distance)] sorted by distance then id."""
        query_words = hamming.to_words(hamming.as_hash_rows(hashes))
        out: list[list[tuple[int, int]]] = [[] for _ in range(len(query_words))]
        threshold = int(np.floor(threshold))  # distances are whole bits
        if threshold < 0 or len(query_words) == 0:
            return out
        self._merge_if_due()
        base, tail = self._segments
        parts = [base.search(query_words, threshold, self.threads)] if base.n_alive else []
        if tail.n:
            parts.append(tail.search(query_words, threshold))
        if not parts:
            return out
        qi, ids, d = (np.concatenate(column) for column in zip(*parts))
        order = np.lexsort((ids, d, qi))
        for q, i, dist in zip(qi[order].tolist(), ids[order].tolist(), d[order].tolist()):
            out[q].append((i, dist))
        return out

    def __len__(self) -> int:
        base, tail = self._segments
        return base.n_alive + tail.n_alive

    def __contains__(self, signal_id: object) -> bool:
        if not isinstance(signal_id, (int, np.integer)):
            return False
        ids = np.asarray([signal_id], dtype=np.int64)
        base, tail = self._segments
        rows = base.rows_of(ids)
        if len(rows) and base.alive[rows].any():
            return True
        live = tail.alive[: tail.n] & (tail.ids[: tail.n] == ids[0])
        return bool(live.any())

    def live_ids(self, signal_ids: Iterable[int]) -> set[int]:
        """Which of ``signal_ids`` are live here, in one vectorised pass: a refresh after a bulk
        import asks this of every new id, and ``in`` one id at a time scans the whole tail each time."""
        ids = np.unique(np.fromiter((int(i) for i in signal_ids), dtype=np.int64))
        if not len(ids):
            return set()
        base, tail = self._segments
        rows = base.rows_of(ids)
        found = set(base.ids[rows[base.alive[rows]]].tolist())
        n = tail.n
        if n:
            found.update(tail.ids[:n][tail.alive[:n] & np.isin(tail.ids[:n], ids)].tolist())
        return found

    # -- persistence -----------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the whole state (tables included) to ``path`` atomically."""
        path = Path(path)
        self._merge_if_due()
        base, tail = self._segments
        n = tail.n
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "base_words": base.words, "base_ids": base.ids, "base_alive": base.alive,
            "tail_words": tail.words[:n], "tail_ids": tail.ids[:n], "tail_alive": tail.alive[:n],
        }
        if base.tables is not None:
            arrays.update(mih_layout=base.tables.layout, mih_offsets=base.tables.offsets, mih_rows=base.tables.rows)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, *, threads: int | None = None, mapped: bool = False) -> "PdqIndex":
        """``mapped``: hashes and tables stay in the file, memory-mapped read-only (replicas share the pages)."""
        if mapped:
            from crossmatch.index.snapshots import load_npz_mapped

            return cls._from_arrays(path, load_npz_mapped(Path(path)), threads)
        with np.load(Path(path)) as data:
            return cls._from_arrays(path, data, threads)

    @classmethod
    def load_mapped(cls, path: Path) -> "PdqIndex":
        return cls.load(path, mapped=True)

    @classmethod
    def _from_arrays(cls, path: Path, data, threads: int | None) -> "PdqIndex":
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: PDQ index format {version}, expected {FORMAT_VERSION}")
        words = data["base_words"].astype(np.uint64, copy=False)
        tables = None
        if "mih_layout" in data:
            tables = mih.MultiIndexTable(words, data["mih_layout"], data["mih_offsets"], data["mih_rows"])
        # "alive" flags change as entries are removed: always a private, writable copy.
        base = _Segment(words, data["base_ids"], np.array(data["base_alive"]), tables)
        tail = _Tail(max(1024, len(data["tail_ids"])))
        tail.append(data["tail_words"].astype(np.uint64, copy=False), data["tail_ids"])
        tail.alive[: tail.n] = data["tail_alive"]
        index = cls(threads=threads)
        index._segments = (base, tail)
        return index
