"""The hash stage: content -> signals, alone or in parallel worker processes.

Hashing needs no database, so a batch can fan out over every core while the
parent process does the index lookups.  Results come back in input order and
the number of items in flight is bounded, so memory does not grow with the batch.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from crossmatch.items import ItemError
from crossmatch.settings import Settings
from crossmatch.signals.base import BankHasher, Content, ContentError, DeepHasher, Signal
from crossmatch.signals.registry import SignalRegistry


@dataclass
class Hashed:
    """The hash stage's answer for one item."""

    item: str
    kind: str
    signals: list[Signal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def hash_content(registry: SignalRegistry, content: Content, deep: bool = False, for_bank: bool = False) -> Hashed:
    """Run every signal type that applies to the content.

    ``deep`` runs only the costly second pass (``hash_deep``); ``for_bank`` adds
    the extra signals a bank item keeps (``hash_bank_extras``) and drops
    query-only variants.
    """
    result = Hashed(content.item, content.kind)
    errors: list[str] = []
    for signal_type in registry:
        try:
            if deep:
                if not isinstance(signal_type, DeepHasher):
                    continue
                signals = signal_type.hash_deep(content)
            elif content.kind in signal_type.content_kinds:
                signals = signal_type.hash(content)
                if for_bank:
                    signals = bank_signals(signals)
                    if isinstance(signal_type, BankHasher):
                        signals += signal_type.hash_bank_extras(content)
            else:
                continue
        except ContentError as exc:
            message = str(exc)
            if message not in errors:
                errors.append(message)
            continue
        for signal in signals:
            # Types with a quality score (pdq, vpdq) say below which a hash is unreliable.
            floor = getattr(signal_type, "min_quality", None)
            if signal.quality is not None and floor is not None and signal.quality < floor and not signal.meta.get("query_only"):
                result.warnings.append(
                    f"{signal.type} quality {signal.quality} is below {floor}: the hash is unreliable "
                    "(flat or tiny image) and is not used for matching"
                )
        result.signals.extend(signals)
    if errors:
        result.error = "; ".join(errors)
    return result


def bank_signals(signals: list[Signal]) -> list[Signal]:
    """What a bank item may keep of a query's signals: no query-only variants, and no
    source text (``meta["text"]``, evidence for reviewers; matching never needs it).
    Keep hashes, not content."""
    out = []
    for signal in signals:
        if signal.meta.get("query_only"):
            continue
        if "text" in signal.meta:
            signal = Signal(signal.type, signal.value, signal.quality, {k: v for k, v in signal.meta.items() if k != "text"})
        out.append(signal)
    return out


# -- parallel batches ------------------------------------------------------------
# Worker processes each build their own registry once (plugins and models load per process).
_worker_registry: SignalRegistry | None = None


def _init_worker(settings_json: str, type_names: list[str]) -> None:
    global _worker_registry  # per-process state of a pool worker, never of the parent
    settings = Settings.model_validate_json(settings_json)
    _worker_registry = SignalRegistry.from_entry_points(settings, only=type_names)


def _hash_in_worker(content: Content, for_bank: bool) -> Hashed:
    assert _worker_registry is not None
    content.derived.clear()
    return hash_content(_worker_registry, content, for_bank=for_bank)


class BatchHasher:
    """Hashes a stream of contents with ``workers`` processes (in-process when 1).

    Entries that are already errors (:class:`ItemError`) pass through in their
    place, so output order always equals input order.
    """

    def __init__(
        self, settings: Settings, registry: SignalRegistry, workers: int | None = None, in_flight: int = 64, for_bank: bool = False
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._for_bank = for_bank
        self._workers = workers if workers is not None else settings.workers
        self._in_flight = max(in_flight, 2 * self._workers)

    def map(self, entries: Iterable[Content | ItemError]) -> Iterator[tuple[Content | ItemError, Hashed | None]]:
        if self._workers <= 1:
            for entry in entries:
                yield entry, None if isinstance(entry, ItemError) else hash_content(self._registry, entry, for_bank=self._for_bank)
            return
        with ProcessPoolExecutor(
            self._workers, initializer=_init_worker, initargs=(self._settings.model_dump_json(), self._registry.names())
        ) as pool:
            pending: deque[tuple[Content | ItemError, Future | None]] = deque()

            def submit(entry: Content | ItemError) -> None:
                future = None if isinstance(entry, ItemError) else pool.submit(_hash_in_worker, entry, self._for_bank)
                pending.append((entry, future))

            source = iter(entries)
            for entry in itertools.islice(source, self._in_flight):
                submit(entry)
            while pending:
                entry, future = pending.popleft()
                yield entry, None if future is None else future.result()
                for nxt in itertools.islice(source, 1):
                    submit(nxt)
