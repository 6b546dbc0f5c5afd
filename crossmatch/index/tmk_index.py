"""The TMK+PDQF level-1 index: FAISS inner product over the unit pure-average features.

Level 1 (cosine of the pure-average features) is a 256-d inner product, which FAISS
answers for the whole bank at once; :meth:`TmkType.match` then computes the costly
level-2 kernel score only for the few bank videos at or above the level-1 threshold,
reading their cos/sin features from the store (as upstream's tmk-query does one file
at a time).  So the index holds 1 KB per bank video instead of the 256 KB of features.
Hits are re-scored with the same function as :meth:`TmkType.compare`, so the answer
equals brute force.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from crossmatch.index.vectors import _faiss_threads
from crossmatch.signals.base import IndexHit, Signal
from crossmatch.signals.tmk_features import DIMENSION, TmkFeatures

# FAISS sums in another order than numpy: ask it for a little more than the threshold, then decide exactly.
_FAISS_SLACK = 1e-4


class TmkIndex:
    def __init__(self, parse: Callable[[str], TmkFeatures]) -> None:
        import faiss

        self._parse = parse
        self._ann = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
        self._entries: dict[int, tuple[np.ndarray, bytes]] = {}  # id -> (unit level-1 vector, compatibility key)

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        ids, vectors = [], []
        for signal_id, signal in entries:
            features = self._parse(signal.value)
            if signal_id in self._entries:
                self.remove([signal_id])
            self._entries[signal_id] = (features.unit_average, features.compat_key)
            ids.append(signal_id)
            vectors.append(features.unit_average)
        if ids:
            self._ann.add_with_ids(np.stack(vectors), np.asarray(ids, dtype=np.int64))

    def remove(self, signal_ids: Iterable[int]) -> None:
        gone = [i for i in signal_ids if self._entries.pop(i, None) is not None]
        if gone:
            self._ann.remove_ids(np.asarray(gone, dtype=np.int64))

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        """Bank hashes whose level-1 score with ``signal`` is at least ``threshold``."""
        if not self._entries:
            return []
        query = self._parse(signal.value)
        unit = query.unit_average
        with _faiss_threads(1):  # one 256-d query: OpenMP threads cost more to wake than they save
            _, _, ids = self._ann.range_search(unit[None, :], threshold - _FAISS_SLACK)
        hits = []
        for signal_id in ids.tolist():
            vector, key = self._entries[signal_id]
            one = float(np.dot(unit, vector))  # the same level-1 value brute force computes
            if one >= threshold and key == query.compat_key:
                hits.append(IndexHit(signal_id, score=one))
        return hits

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._entries
