"""Near-duplicate clusters of unbanked posts (the material no bank knows yet).

A post joins the first cluster whose founding signal is within the signal type's
threshold, else founds a new one (leader clustering: one pass, no re-shuffling,
so a cluster id never changes under an analyst's feet).  Hand-written because
it must be incremental and use each signal type's own ``compare``; the banks'
indexes answer a different question (bank items, not posts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# (type) -> (compare(a, b), threshold, "distance" | "score")
Rule = tuple[Callable[[str, str], float], float, str]


def pdq_hamming(a: str, b: str) -> float:
    return float((int(a, 16) ^ int(b, 16)).bit_count())


@dataclass
class Cluster:
    id: int
    signal_type: str
    value: str  # the founding signal
    posts: list[str] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)


class Clusters:
    def __init__(self, rules: dict[str, Rule]) -> None:
        self.rules = rules
        self.by_id: dict[int, Cluster] = {}
        self._leaders: dict[str, list[Cluster]] = {t: [] for t in rules}
        # Fast path: PDQ leaders as (n, 4) uint64 words, compared all at once (numpy popcount).
        self._pdq = np.zeros((64, 4), dtype=np.uint64)
        self._pdq_n = 0

    def assign(self, post_key: str, account: str, signals: tuple[tuple[str, str], ...]) -> set[int]:
        """The clusters this post belongs to (one per signal type it carries)."""
        found: set[int] = set()
        for signal_type, value in signals:
            if signal_type not in self.rules:
                continue
            cluster = self._nearest(signal_type, value) or self._found(signal_type, value)
            if post_key not in cluster.posts:
                cluster.posts.append(post_key)
            cluster.accounts.add(account)
            found.add(cluster.id)
        return found

    def _nearest(self, signal_type: str, value: str) -> Cluster | None:
        compare, threshold, metric = self.rules[signal_type]
        leaders = self._leaders[signal_type]
        if signal_type == "pdq" and compare is pdq_hamming:
            if not self._pdq_n:
                return None
            d = np.bitwise_count(self._pdq[:self._pdq_n] ^ _words(value)).sum(axis=1)
            near = np.flatnonzero(d <= threshold)
            return leaders[int(near[0])] if len(near) else None
        for cluster in leaders:
            d = compare(value, cluster.value)
            if (d <= threshold) if metric == "distance" else (d >= threshold):
                return cluster
        return None

    def _found(self, signal_type: str, value: str) -> Cluster:
        cluster = Cluster(len(self.by_id) + 1, signal_type, value)
        self.by_id[cluster.id] = cluster
        self._leaders[signal_type].append(cluster)
        if signal_type == "pdq":
            if self._pdq_n == len(self._pdq):
                self._pdq = np.concatenate([self._pdq, np.zeros_like(self._pdq)])
            self._pdq[self._pdq_n] = _words(value)
            self._pdq_n += 1
        return cluster


def _words(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), dtype=">u8").astype(np.uint64)
