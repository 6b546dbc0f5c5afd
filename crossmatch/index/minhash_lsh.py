"""MinHash LSH index for text_near: datasketch's LSH finds candidates, exact estimates decide.

datasketch's ``MinHashLSH`` fixes its similarity threshold when it is built,
while banks choose their own thresholds at query time.  So the LSH is built at
a low floor (``lsh_threshold``) and every candidate is verified with the same
Jaccard estimate the brute-force index uses; a query looser than the floor
scans all entries.  The answer is then the brute-force answer except for the
(vanishingly rare, for thresholds well above the floor) pairs that LSH banding
misses.

>>> import numpy as np
>>> from crossmatch.signals.base import Signal
>>> idx = MinHashLSHIndex(num_perm=16, lsh_threshold=0.3, decode=lambda s: np.frombuffer(bytes.fromhex(s.value), "<u4"))
>>> idx.add([(1, Signal("t", "01000000" * 16)), (2, Signal("t", "02000000" * 16))])
>>> [(h.signal_id, h.score) for h in idx.query(Signal("t", "01000000" * 16), 0.8)]
[(1, 1.0)]
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from crossmatch.signals.base import IndexHit, Signal


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Share of equal MinHash values: the estimated Jaccard similarity."""
    return float(np.count_nonzero(a == b)) / len(a)


class MinHashLSHIndex:
    """Incremental (insert/remove) MinHash index keyed by store signal ids."""

    def __init__(self, num_perm: int, lsh_threshold: float, decode: Callable[[Signal], np.ndarray]) -> None:
        self._num_perm = num_perm
        self._floor = lsh_threshold
        self._decode = decode
        from datasketch import MinHashLSH  # imports scipy: only when an index is built, not at CLI start-up

        self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)
        self._values: dict[int, np.ndarray] = {}

    def _minhash(self, values: np.ndarray):  # -> datasketch.LeanMinHash
        from datasketch import LeanMinHash

        return LeanMinHash(seed=1, hashvalues=values.astype(np.uint32), scheme="affine32")

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        for signal_id, signal in entries:
            values = self._decode(signal)
            if len(values) != self._num_perm:
                # Signals made with another num_perm cannot share LSH bands; refuse loudly.
                raise ValueError(f"signal {signal_id} has {len(values)} permutations, index uses {self._num_perm}")
            self.remove([signal_id])
            self._lsh.insert(signal_id, self._minhash(values))
            self._values[signal_id] = values

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            if self._values.pop(signal_id, None) is not None:
                self._lsh.remove(signal_id)

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        values = self._decode(signal)
        if len(values) != self._num_perm:
            return []  # different num_perm: nothing here is comparable
        if threshold < self._floor:
            candidates: Iterable[int] = self._values.keys()  # looser than the LSH floor: scan
        else:
            candidates = self._lsh.query(self._minhash(values))
        hits = []
        for signal_id in candidates:
            score = jaccard_estimate(values, self._values[signal_id])
            if score >= threshold:
                hits.append(IndexHit(signal_id, score=score))
        hits.sort(key=lambda h: (-h.score, h.signal_id))
        return hits

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._values
