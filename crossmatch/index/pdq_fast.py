"""The fast, exact, persistent PDQ index.

Hashes live in two segments:

* the **base**: an immutable array with multi-index-hashing tables
  (:mod:`crossmatch.index.mih`), built when the tail is merged in;
* the **tail**: hashes added since, scanned exhaustively, so an added hash is
  matchable the moment ``add`` returns.

Removal marks rows dead (a tombstone mask); re-adding an id replaces it.  The
tail is merged into the base once it outgrows a fraction of the base, and the
base is rebuilt when a quarter of it is dead, so a change costs amortised
O(log n)-ish work rather than a rebuild each time.  Every lookup is exact: MIH
by pigeonhole plus full verification, or an exhaustive popcount scan when that
is estimated to be cheaper (large thresholds, small segments).

>>> idx = PdqIndex()
>>> idx.add([(7, Signal("pdq", "f" * 64))])
>>> [(h.signal_id, h.distance) for h in idx.query(Signal("pdq", "f" * 63 + "e"), 31)]
[(7, 1.0)]
"""

from __future__ import annotations

import os
import tempfile
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


class PdqIndex:
    """Exact Hamming range search over 256-bit PDQ hashes, keyed by signal id.

    Implements :class:`crossmatch.signals.base.SignalIndex`; returns exactly the
    brute-force result set at any threshold.  Lookups may run concurrently;
    changes (add, remove, load) must not overlap with anything else.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads or min(2, os.cpu_count() or 1)
        self._base = _Segment.build(_empty_words(0), np.empty(0, np.int64))
        self._tail_words = _empty_words(1024)
        self._tail_ids = np.empty(1024, np.int64)
        self._tail_alive = np.zeros(1024, dtype=bool)
        self._tail_n = 0

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
        if self._tail_n + len(ids) > self._tail_limit():
            self._compact(words, ids)
            return
        self._grow_tail(self._tail_n + len(ids))
        end = self._tail_n + len(ids)
        self._tail_words[self._tail_n : end] = words
        self._tail_ids[self._tail_n : end] = ids
        self._tail_alive[self._tail_n : end] = True
        self._tail_n = end

    def remove(self, signal_ids: Iterable[int]) -> None:
        ids = np.fromiter(signal_ids, dtype=np.int64) if not isinstance(signal_ids, np.ndarray) else signal_ids
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self._base.kill(ids)
        n = self._tail_n
        self._tail_alive[:n] &= ~np.isin(self._tail_ids[:n], ids)
        if len(self._base.words) - self._base.n_alive > MAX_DEAD_FRACTION * len(self._base.words):
            self.compact()

    def _tail_limit(self) -> int:
        return int(np.clip(len(self._base.words) // 64, MIN_TAIL_LIMIT, MAX_TAIL_LIMIT))

    def _grow_tail(self, needed: int) -> None:
        if needed <= len(self._tail_ids):
            return
        size = max(needed, 2 * len(self._tail_ids))
        words = _empty_words(size)
        words[: self._tail_n] = self._tail_words[: self._tail_n]
        ids = np.empty(size, np.int64)
        ids[: self._tail_n] = self._tail_ids[: self._tail_n]
        alive = np.zeros(size, dtype=bool)
        alive[: self._tail_n] = self._tail_alive[: self._tail_n]
        self._tail_words, self._tail_ids, self._tail_alive = words, ids, alive

    def compact(self) -> None:
        """Merge the tail into the base now (done automatically as the tail grows)."""
        self._compact(_empty_words(0), np.empty(0, np.int64))

    def _compact(self, extra_words: np.ndarray, extra_ids: np.ndarray) -> None:
        """Merge the live base, the live tail and ``extra`` into a new base."""
        base, n = self._base, self._tail_n
        tail_live = self._tail_alive[:n]
        words = np.concatenate([base.words[base.alive], self._tail_words[:n][tail_live], extra_words])
        ids = np.concatenate([base.ids[base.alive], self._tail_ids[:n][tail_live], extra_ids])
        # The old base stays usable until the new one is complete (a failed build changes nothing);
        # the cost is holding both sets of tables for a moment.
        self._base = _Segment.build(words, ids)
        self._tail_n = 0
        self._tail_alive[:] = False

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
        if threshold < 0 or len(query_words) == 0 or len(self) == 0:
            return out
        qi, ids, d = self._base.search(query_words, threshold, self.threads)
        if self._tail_n:
            tqi, rows, td = hamming.scan(query_words, self._tail_words[: self._tail_n], threshold)
            live = self._tail_alive[rows]
            qi = np.concatenate([qi, tqi[live]])
            ids = np.concatenate([ids, self._tail_ids[rows[live]]])
            d = np.concatenate([d, td[live]])
        order = np.lexsort((ids, d, qi))
        qi, ids, d = qi[order].tolist(), ids[order].tolist(), d[order].tolist()
        for q, i, dist in zip(qi, ids, d):
            out[q].append((i, dist))
        return out

    def __len__(self) -> int:
        return self._base.n_alive + int(self._tail_alive[: self._tail_n].sum())

    # -- persistence -----------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the whole state (tables included) to ``path`` atomically."""
        path = Path(path)
        base, n = self._base, self._tail_n
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "base_words": base.words, "base_ids": base.ids, "base_alive": base.alive,
            "tail_words": self._tail_words[:n], "tail_ids": self._tail_ids[:n], "tail_alive": self._tail_alive[:n],
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
    def load(cls, path: Path, *, threads: int | None = None) -> "PdqIndex":
        with np.load(Path(path)) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: PDQ index format {version}, expected {FORMAT_VERSION}")
            words = data["base_words"].astype(np.uint64, copy=False)
            tables = None
            if "mih_layout" in data:
                tables = mih.MultiIndexTable(words, data["mih_layout"], data["mih_offsets"], data["mih_rows"])
            index = cls(threads=threads)
            index._base = _Segment(words, data["base_ids"], data["base_alive"], tables)
            tail_ids = data["tail_ids"]
            index._grow_tail(len(tail_ids))
            index._tail_n = len(tail_ids)
            index._tail_words[: len(tail_ids)] = data["tail_words"]
            index._tail_ids[: len(tail_ids)] = tail_ids
            index._tail_alive[: len(tail_ids)] = data["tail_alive"]
        return index
