"""Immutable index versions: a base index plus small layers of later changes.

Readers never lock.  A published :class:`LayeredIndex` is never changed: a
refresh builds a *new* one that shares the (large) base and the earlier
layers, adds one small layer for the new changes, and the manager swaps it in
by replacing a reference (HMA's index swap, applied per change batch).  When
the layers grow, a compaction builds a new base in the background and swaps
that in the same way.

The live copy of a signal id is in the newest layer holding it, unless it was
removed after that: ``touched`` maps every id changed since the base to the
layer that holds its live copy (or :data:`REMOVED`); untouched ids live in
the base.  Hits from any other layer are stale and filtered out.

Written here because no library offers copy-on-write layering over
arbitrary index types (PDQ multi-index tables, FAISS, MinHash LSH, dicts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from crossmatch.signals.base import IndexHit, Signal, SignalIndex

REMOVED = -1
BASE = 0


@dataclass(frozen=True)
class Layer:
    """One immutable index over the changes of one or more refreshes."""

    index: SignalIndex
    entries: Mapping[int, Signal]  # what it holds, kept to merge small layers without the store


@dataclass
class LayeredIndex:
    """The index one version serves for one signal type (implements :class:`SignalIndex` for reads).

    It answers exactly as one index built from the live entries would:
    ``query`` and ``query_many`` (range search) and ``search`` (top-k, for
    vector indices) merge the layers' answers after dropping stale ids.
    """

    base: SignalIndex
    layers: tuple[Layer, ...] = ()
    touched: Mapping[int, int] = field(default_factory=dict)
    seq: int = 0  # every change up to this number of the change log is in
    base_seq: int = 0  # the base holds every change up to here
    hidden_in_base: int = 0  # base entries superseded or removed (for top-k over-fetch and len)
    live_in_layers: int = 0
    # Per-version notes a matcher leaves for the engine (e.g. text_xling's model-mismatch warning).
    warning: str | None = field(default=None, compare=False)
    _warned_key: Any = field(default=None, compare=False, repr=False)

    # -- what readers use ------------------------------------------------------
    def __len__(self) -> int:
        return len(self.base) - self.hidden_in_base + self.live_in_layers

    def __contains__(self, signal_id: object) -> bool:
        where = self.touched.get(signal_id, BASE)  # type: ignore[arg-type]
        if where == REMOVED:
            return False
        if where == BASE:
            contains = getattr(self.base, "__contains__", None)
            return bool(contains(signal_id)) if contains is not None else True
        return True

    def _live(self, layer_no: int, signal_id: int) -> bool:
        return self.touched.get(signal_id, BASE) == layer_no

    def _all(self) -> list[tuple[int, SignalIndex]]:
        return [(BASE, self.base)] + [(n, layer.index) for n, layer in enumerate(self.layers, 1)]

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        hits: list[IndexHit] = []
        for no, index in self._all():
            if len(index):
                hits.extend(h for h in index.query(signal, threshold) if self._live(no, h.signal_id))
        return hits

    def _query_many(self, hashes: np.ndarray, threshold: float) -> list[list[tuple[int, int]]]:
        out: list[list[tuple[int, int]]] = [[] for _ in range(len(hashes))]
        for no, index in self._all():
            if not len(index):
                continue
            for row, hits in enumerate(index.query_many(hashes, threshold)):  # type: ignore[attr-defined]
                out[row].extend(h for h in hits if self._live(no, h[0]))
        for row in out:
            row.sort(key=lambda h: (h[1], h[0]))
        return out

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query over the live entries, best first (vector indices)."""
        queries = np.atleast_2d(queries)
        score_parts, id_parts = [], []
        for no, index in self._all():
            if not len(index):
                continue
            # Over-fetch by the number of stale entries this layer may return instead of live ones.
            stale = self.hidden_in_base if no == BASE else len(self.layers[no - 1].entries)
            scores, ids = index.search(queries, min(len(index), k + stale))  # type: ignore[attr-defined]
            live = np.vectorize(lambda i, no=no: i >= 0 and self._live(no, int(i)), otypes=[bool])(ids) if ids.size else ids >= 0
            score_parts.append(np.where(live, scores, -np.inf))
            id_parts.append(np.where(live, ids, -1))
        if not score_parts:
            return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        scores, ids = np.hstack(score_parts), np.hstack(id_parts)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        scores, ids = np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)
        if scores.shape[1] < k:
            pad = k - scores.shape[1]
            scores = np.hstack([scores, np.full((len(queries), pad), -np.inf, scores.dtype)])
            ids = np.hstack([ids, np.full((len(queries), pad), -1, ids.dtype)])
        return scores, ids

    def _vectors(self, signal_ids: Iterable[int]) -> np.ndarray:
        signal_ids = [int(i) for i in signal_ids]
        rows = []
        for i in signal_ids:
            where = self.touched.get(i, BASE)
            index = self.base if where == BASE else self.layers[where - 1].index
            rows.append(index.vectors([i])[0])  # type: ignore[attr-defined]
        dim = getattr(self.base, "dim", 0)
        return np.vstack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    # The base's optional capabilities, offered only when the base has them, so a matcher's
    # ``hasattr(index, "search")`` answers for the layered index as it would for the base.
    @property
    def query_many(self):
        return self._capability("query_many", self._query_many)

    @property
    def search(self):
        return self._capability("search", self._search)

    @property
    def vectors(self):
        return self._capability("vectors", self._vectors)

    def _capability(self, name: str, method):
        if not hasattr(self.base, name):
            raise AttributeError(name)
        return method

    @property
    def foreign(self) -> dict[int, Any]:
        """Vector indices: bank signals set aside because another model made them, across layers."""
        if not hasattr(self.base, "foreign"):
            raise AttributeError("foreign")
        merged = {i: m for i, m in getattr(self.base, "foreign", {}).items() if self.touched.get(i, BASE) == BASE}
        for no, layer in enumerate(self.layers, 1):
            merged.update({i: m for i, m in getattr(layer.index, "foreign", {}).items() if self._live(no, i)})
        return merged

    def __getattr__(self, name: str) -> Any:
        # Everything else a type-specific matcher asks of its index (model id, dim, nprobe) is the base's.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.base, name)

    # -- building new versions (the manager's side) ------------------------------
    @property
    def layered_entries(self) -> int:
        return sum(len(layer.entries) for layer in self.layers)

    def with_changes(
        self, added: Sequence[tuple[int, Signal]], removed: Sequence[int], seq: int, make_index: Callable[[], SignalIndex],
        max_layers: int = 8,
    ) -> "LayeredIndex":
        """A new version with these changes applied; ``self`` is left as it is.

        An id both removed and added in one batch ends up live: as in
        :meth:`BankService.changes_since`, it was removed and then added again.
        """
        if not added and not removed:
            return LayeredIndex(self.base, self.layers, self.touched, max(seq, self.seq), self.base_seq, self.hidden_in_base,
                                self.live_in_layers)
        touched = dict(self.touched)
        hidden = self.hidden_in_base
        layers = list(self.layers)
        if len(layers) >= max_layers:  # fold the small layers into one, from what they hold
            live = {i: s for n, layer in enumerate(layers, 1) for i, s in layer.entries.items() if touched.get(i) == n}
            layers = [_build_layer(live, make_index)]
            touched.update({i: 1 for i in live})
        hidden += self._leaving_base(touched, removed)
        touched.update(dict.fromkeys(removed, REMOVED))
        if added:
            new_no = len(layers) + 1
            entries = dict(added)
            hidden += self._leaving_base(touched, entries)
            touched.update(dict.fromkeys(entries, new_no))
            layers.append(_build_layer(entries, make_index))
        live = sum(1 for where in touched.values() if where > BASE)
        return LayeredIndex(self.base, tuple(layers), touched, max(seq, self.seq), self.base_seq, hidden, live)

    def _leaving_base(self, touched: dict[int, int], signal_ids: Iterable[int]) -> int:
        """How many live base entries these changes hide (ids already touched hide nothing new)."""
        fresh = list(dict.fromkeys(i for i in signal_ids if i not in touched))
        if not fresh:
            return 0
        live_ids = getattr(self.base, "live_ids", None)
        if live_ids is not None:  # one vectorised call (pdq_fast) instead of a probe per id
            return len(live_ids(fresh))
        contains = getattr(self.base, "__contains__", None)
        return len(fresh) if contains is None else sum(1 for i in fresh if contains(i))


def _build_layer(entries: Mapping[int, Signal], make_index: Callable[[], SignalIndex]) -> Layer:
    index = make_index()
    index.add(list(entries.items()))
    compact = getattr(index, "compact", None)
    if compact is not None:
        compact()  # finish any deferred build now: a published layer is never changed again
    return Layer(index, dict(entries))
