"""Brute-force indices: slow, obviously right, and the reference every fast index must equal."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

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
    """Equality lookups (md5, sha256, url): a dict from value to signal id(s).

    A value held by one signal (nearly all of a hash list) maps to its id, not to a set of one:
    a million one-element sets cost more memory and build time than the dicts themselves.
    """

    def __init__(self) -> None:
        self._by_value: dict[str, int | set[int]] = {}
        self._value_of: dict[int, str] = {}

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        entries = list(entries)
        self.add_values([signal_id for signal_id, _ in entries], [signal.value for _, signal in entries])

    def add_values(self, signal_ids: Sequence[int], values: Sequence[str]) -> None:
        """Add (or move) signals given as two columns: dict building in C for a whole hash list."""
        again = self._value_of.keys() & set(signal_ids)
        if again:
            self.remove(again)
        fresh = dict(zip(values, signal_ids))
        if len(fresh) == len(values) and not (fresh.keys() & self._by_value.keys()):
            self._by_value.update(fresh)  # every value new: the whole batch in C
        else:
            for signal_id, value in zip(signal_ids, values):
                held = self._by_value.get(value)
                if held is None:
                    self._by_value[value] = signal_id
                elif isinstance(held, set):
                    held.add(signal_id)
                elif held != signal_id:
                    self._by_value[value] = {held, signal_id}
        self._value_of.update(zip(signal_ids, values))

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            value = self._value_of.pop(signal_id, None)
            if value is None:
                continue
            held = self._by_value[value]
            if isinstance(held, set):
                held.discard(signal_id)
                if len(held) == 1:
                    self._by_value[value] = next(iter(held))
            else:
                del self._by_value[value]

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        held = self._by_value.get(signal.value)
        if held is None:
            return []
        return [IndexHit(i, distance=0.0) for i in (sorted(held) if isinstance(held, set) else [held])]

    def __len__(self) -> int:
        return len(self._value_of)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._value_of
