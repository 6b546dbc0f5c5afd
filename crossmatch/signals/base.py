"""The signal-type contract: tiny capability pieces, as in python-threatexchange.

A signal type is a plain instance satisfying :class:`SignalType`.  It is found by
its stable ``name`` through the ``crossmatch.signal_types`` entry-point group
(see :mod:`crossmatch.signals.registry`), never by class name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Protocol, Sequence, runtime_checkable

ContentKind = Literal["image", "video", "text", "url", "file"]
Metric = Literal["distance", "score"]


class InvalidSignal(ValueError):
    """A signal value that is not of its type's form (bad hex, wrong length, ...)."""


_HEX = re.compile(r"[0-9a-f]*")


def validate_many(signal_type: "SignalType", values: Sequence[str]) -> list["str | InvalidSignal"]:
    """Each value's canonical form, or the :class:`InvalidSignal` saying why it is bad.

    Hex-digest types (those with a ``hex_length``) are checked a block at a time: one length
    check and one regex over the joined block, because a million-row hash list otherwise pays a
    Python call per row. A block with any bad value is validated value by value, for the message.
    """
    length = getattr(signal_type, "hex_length", None)
    if length:
        clean = [v.strip().lower() for v in values]
        if set(map(len, clean)) <= {length} and _HEX.fullmatch("".join(clean)):
            return clean  # type: ignore[return-value]
    out: list[str | InvalidSignal] = []
    for value in values:
        try:
            out.append(signal_type.validate(value))
        except InvalidSignal as exc:
            out.append(exc)
    return out


class ContentError(ValueError):
    """Content that cannot be hashed: corrupt, truncated, too large, unsupported."""


@dataclass(frozen=True)
class Signal:
    """One fingerprint of a type.

    ``value`` is the canonical string form (hex for hashes, base64 for vectors).
    ``meta`` carries what evidence needs later: the chunk span and language of a
    text embedding, the dihedral variant of an image hash, the frame time of a
    video frame hash.
    """

    type: str
    value: str
    quality: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "value": self.value}
        if self.quality is not None:
            out["quality"] = self.quality
        if self.meta:
            out["meta"] = self.meta
        return out


@dataclass
class Content:
    """One piece of content to hash, as produced by the extract step.

    ``data`` holds raw bytes for media and files; ``text`` holds text content.
    Content is transient: it is never stored unless media retention is enabled.
    """

    item: str
    kind: ContentKind
    data: bytes | None = None
    text: str | None = None
    path: Path | None = None
    url: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    # Derived content added by extractors (OCR text, language, frames...).
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexHit:
    """A bank signal within threshold of a query signal."""

    signal_id: int
    distance: float | None = None
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SignalIndex(Protocol):
    """Answers "which bank signals are within threshold of this one".

    Entries are keyed by the store's signal row id.  ``add`` and ``remove`` are
    incremental so that a new bank item is matchable the moment it is stored.
    """

    def add(self, entries: Iterable[tuple[int, Signal]]) -> None: ...

    def remove(self, signal_ids: Iterable[int]) -> None: ...

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Candidate:
    """A query x bank-signal pairing that passed the signal type's own decision.

    ``signal_ids`` are the bank signals involved (several for an aggregated text
    or video match, all belonging to one bank item).
    """

    signal_ids: tuple[int, ...]
    distance: float | None = None
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class BankSignalLookup(Protocol):
    """Resolves bank signal ids to (bank item id, signal) for aggregation."""

    def __call__(self, signal_ids: Sequence[int]) -> dict[int, tuple[int, Signal]]: ...


@runtime_checkable
class SignalType(Protocol):
    """What every signal type provides.

    ``metric`` says whether smaller (``distance``) or larger (``score``) is closer.
    ``default_threshold`` applies when a bank sets no per-type threshold.
    """

    name: str
    content_kinds: frozenset[str]
    metric: Metric
    default_threshold: float
    max_threshold: float

    def validate(self, value: str) -> str:
        """Return the canonical form of ``value`` or raise :class:`InvalidSignal`."""
        ...

    def hash(self, content: Content) -> list[Signal]:
        """Signals for ``content`` (may be empty); raise :class:`ContentError`."""
        ...

    def compare(self, a: Signal, b: Signal) -> float:
        """Distance or score between two signals of this type."""
        ...

    def examples(self) -> list[Signal]:
        """A few valid signals, used by the shared contract test."""
        ...

    def brute_force_index(self) -> SignalIndex:
        """The index that defines the right answer."""
        ...

    def fast_index(self) -> SignalIndex | None:
        """A faster index returning the same set, or None where brute force is enough."""
        ...

    def match(
        self,
        queries: Sequence[Signal],
        index: SignalIndex,
        threshold: float,
        lookup: BankSignalLookup,
    ) -> list[Candidate]:
        """Turn index lookups for all of one item's signals into candidates.

        Most types use :func:`match_each`; aggregated types (text chunks,
        video frames) group hits per bank item and decide at document level.
        """
        ...


@runtime_checkable
class DeepHasher(Protocol):
    """Optional second pass for costly signals (region crops, OCR text).

    The engine calls ``hash_deep`` only when the cheap pass decided nothing and
    deep scanning is enabled; extractors (OCR) have run by then and left their
    output in ``content.derived``.
    """

    def hash_deep(self, content: Content) -> list[Signal]: ...


@runtime_checkable
class BankHasher(Protocol):
    """Optional extra signals stored with a bank item but never computed for a query.

    Example: centre crops of a bank image, so a cropped upload matches in the
    cheap pass without the query paying for crops of itself.
    """

    def hash_bank_extras(self, content: Content) -> list[Signal]: ...


@runtime_checkable
class Extractor(Protocol):
    """Adds derived content (e.g. ``content.derived["ocr"]``) before the deep pass."""

    name: str
    kinds: frozenset[str]

    def extract(self, content: Content) -> None: ...


def within(metric: Metric, value: float, threshold: float) -> bool:
    return value <= threshold if metric == "distance" else value >= threshold


def match_each(
    signal_type: SignalType,
    queries: Sequence[Signal],
    index: SignalIndex,
    threshold: float,
) -> list[Candidate]:
    """Default matching: one candidate per (query signal, bank signal) hit,
    keeping the closest hit per bank signal (e.g. the best dihedral variant)."""
    best: dict[int, Candidate] = {}
    closer = (lambda a, b: a < b) if signal_type.metric == "distance" else (lambda a, b: a > b)
    for q in queries:
        for hit in index.query(q, threshold):
            value = hit.distance if signal_type.metric == "distance" else hit.score
            assert value is not None
            evidence = {"query_signal": q.value, **({"query_meta": q.meta} if q.meta else {}), **hit.evidence}
            cand = Candidate(
                signal_ids=(hit.signal_id,),
                distance=hit.distance,
                score=hit.score,
                evidence=evidence,
            )
            prev = best.get(hit.signal_id)
            prev_value = None if prev is None else (prev.distance if signal_type.metric == "distance" else prev.score)
            if prev is None or closer(value, prev_value):
                best[hit.signal_id] = cand
    return list(best.values())
