"""Brute-force indices: slow, obviously right, and the reference every fast index must equal."""

from __future__ import annotations

from typing import Callable, Iterable

from crossmatch.signals.base import IndexHit, Metric, Signal, within


class BruteForceIndex:
    """Compares the query with every stored signal.

    >>> idx = BruteForceIndex(lambda a, b: abs(int(a.value) - int(b.value)), "distance")
    >>> idx.add([(1, Signal("n", "10")), (2, Signal("n", "20"))])
    >>> [h.signal_id for h in idx.query(Signal("n", "12"), 3)]
    [1]
    """

    def __init__(self, compare: Callable[[Signal, Signal], float], metric: Metric) -> None:
        self._compare = compare
        self._metric = metric
        self._entries: dict[int, Signal] = {}

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        for signal_id, signal in entries:
            self._entries[signal_id] = signal

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            self._entries.pop(signal_id, None)

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        hits = []
        for signal_id, stored in self._entries.items():
            value = self._compare(signal, stored)
            if within(self._metric, value, threshold):
                if self._metric == "distance":
                    hits.append(IndexHit(signal_id, distance=value))
                else:
                    hits.append(IndexHit(signal_id, score=value))
        return hits

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._entries


class ExactIndex:
    """Equality lookups (md5, sha256, url): a dict from value to signal ids."""

    def __init__(self) -> None:
        self._by_value: dict[str, set[int]] = {}
        self._value_of: dict[int, str] = {}

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        for signal_id, signal in entries:
            self.remove([signal_id])
            self._by_value.setdefault(signal.value, set()).add(signal_id)
            self._value_of[signal_id] = signal.value

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            value = self._value_of.pop(signal_id, None)
            if value is not None:
                ids = self._by_value[value]
                ids.discard(signal_id)
                if not ids:
                    del self._by_value[value]

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        return [IndexHit(i, distance=0.0) for i in sorted(self._by_value.get(signal.value, ()))]

    def __len__(self) -> int:
        return len(self._value_of)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._value_of
