"""The TMK+PDQF index: FAISS inner product on level-1 vectors, then level 2 on the candidates.

Level 1 (cosine of the pure-average features) is a 256-d inner product over unit
vectors, which FAISS answers for the whole bank at once; only the few videos at or
above the level-1 threshold pay for the level-2 kernel score (the reference
tmk-query does the same two steps one file at a time).  Candidates are re-scored with
the same functions as :meth:`TmkType.compare`, so the answer equals brute force.

Memory: each video keeps its cos/sin features (256 KB, float32) for level 2.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from crossmatch.index.vectors import _faiss_threads
from crossmatch.signals.base import IndexHit, Signal
from crossmatch.signals.tmk_features import DIMENSION, Level2Scorer, TmkFeatures

# FAISS sums in another order than numpy: ask it for a little more than the threshold, then decide exactly.
_FAISS_SLACK = 1e-4


class TmkIndex:
    def __init__(self, parse: Callable[[str], TmkFeatures], level1_threshold: float, scorer: Level2Scorer) -> None:
        import faiss

        self._parse = parse
        self._c1 = level1_threshold
        self._scorer = scorer
        self._ann = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
        self._entries: dict[int, TmkFeatures] = {}

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        ids, vectors = [], []
        for signal_id, signal in entries:
            features = self._parse(signal.value)
            if signal_id in self._entries:
                self.remove([signal_id])
            self._entries[signal_id] = features
            ids.append(signal_id)
            vectors.append(features.unit_average)
        if ids:
            self._ann.add_with_ids(np.stack(vectors), np.asarray(ids, dtype=np.int64))

    def remove(self, signal_ids: Iterable[int]) -> None:
        gone = [i for i in signal_ids if self._entries.pop(i, None) is not None]
        if gone:
            self._ann.remove_ids(np.asarray(gone, dtype=np.int64))

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        if not self._entries:
            return []
        query = self._parse(signal.value)
        unit = query.unit_average
        with _faiss_threads(1):  # one 256-d query: OpenMP threads cost more to wake than they save
            _, _, ids = self._ann.range_search(unit[None, :], self._c1 - _FAISS_SLACK)
        near = []
        for signal_id in ids.tolist():
            bank = self._entries[signal_id]
            one = float(np.dot(unit, bank.unit_average))  # the same level-1 value brute force computes
            if one >= self._c1 and bank.compat_key == query.compat_key:
                near.append((signal_id, one, bank))
        if not near:
            return []
        two = self._scorer.scores(query, np.stack([b.cos for _, _, b in near]), np.stack([b.sin for _, _, b in near]))
        return [IndexHit(sid, score=float(s), evidence={"level1": round(one, 6), "level2": round(float(s), 6)})
                for (sid, one, _), s in zip(near, two) if s >= threshold]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._entries
