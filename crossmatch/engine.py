"""The one place that runs extract -> hash -> match -> decide.

The CLI, the API, batch jobs and tests all call :class:`Engine`; nothing else
implements matching.  Signal types do their own per-type decision in
``match``; the engine applies per-bank thresholds, skips disabled banks and
items, lets allow banks suppress block matches, and runs the costly deep pass
(extractors such as OCR, then ``hash_deep``) only when the cheap pass decided
nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from crossmatch.banks.service import BankService, SignalRef
from crossmatch.hashing import BatchHasher, Hashed, hash_content
from crossmatch.index.manager import IndexManager
from crossmatch.items import ItemError
from crossmatch.settings import Settings
from crossmatch.signals.base import Candidate, Content, ContentError, Extractor, Signal, within
from crossmatch.signals.registry import SignalRegistry
from crossmatch.store.models import Bank


@dataclass
class Match:
    bank: str
    bank_kind: str
    bank_item: str
    bank_item_id: int
    item_labels: dict[str, Any]
    signal_type: str
    threshold: float
    distance: float | None = None
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    suppressed_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        # The documented shape carries either "distance" or "score", not both.
        if out["distance"] is None:
            out.pop("distance")
        if out["score"] is None:
            out.pop("score")
        if out["suppressed_by"] is None:
            out.pop("suppressed_by")
        return out


@dataclass
class ScanResult:
    item: str
    kind: str
    signals: list[Signal] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    suppressed: list[Match] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    deep: bool = False

    def to_json(self, with_signals: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item": self.item,
            "kind": self.kind,
            "matches": [m.to_json() for m in self.matches],
            "error": self.error,
        }
        if self.suppressed:
            out["suppressed"] = [m.to_json() for m in self.suppressed]
        if self.warnings:
            out["warnings"] = self.warnings
        if with_signals:
            out["signals"] = [s.to_json() for s in self.signals]
        return out


class Engine:
    def __init__(
        self,
        settings: Settings,
        banks: BankService,
        registry: SignalRegistry,
        indexes: IndexManager,
        extractors: Sequence[Extractor] = (),
    ) -> None:
        self.settings = settings
        self.banks = banks
        self.registry = registry
        self.indexes = indexes
        self.extractors = list(extractors)
        self._banks_cache: dict[int, Bank] | None = None
        self._banks_checked_at = -1.0

    # -- hash ------------------------------------------------------------
    def hash(self, content: Content) -> Hashed:
        return hash_content(self.registry, content)

    def hash_for_bank(self, content: Content) -> Hashed:
        """Signals to store for a bank item: no query-only variants, plus bank-only extras."""
        return hash_content(self.registry, content, for_bank=True)

    # -- scan ------------------------------------------------------------
    def scan(self, content: Content, deep: bool | None = None) -> ScanResult:
        return self._finish(content, self.hash(content), deep)

    def scan_many(
        self, items: Iterable[Content | ItemError], deep: bool | None = None, workers: int | None = None
    ) -> Iterator[ScanResult]:
        """Scan a stream; bad items become error results in their place and the batch goes on."""
        hasher = BatchHasher(self.settings, self.registry, workers)
        for entry, hashed in hasher.map(items):
            if isinstance(entry, ItemError):
                yield ScanResult(entry.item, "unknown", error=entry.error)
            else:
                assert hashed is not None
                yield self._finish(entry, hashed, deep)

    def lookup(self, signals: Sequence[Signal]) -> list[Match]:
        """Match given signals (e.g. from a hash list or the API) against enabled banks."""
        for signal in signals:
            self.registry.get(signal.type).validate(signal.value)
        matches, _ = self._decide(signals)
        return matches

    # -- internals ---------------------------------------------------------
    def _enabled_banks(self) -> dict[int, Bank]:
        """Enabled banks, re-read whenever the indices check the store for changes
        (every call in the CLI; at most once per refresh window in a server)."""
        self.indexes.refresh()
        if self._banks_cache is None or self._banks_checked_at != self.indexes.checked_at:
            self._banks_cache = {bank.id: bank for bank in self.banks.list_banks() if bank.enabled}
            self._banks_checked_at = self.indexes.checked_at
        return self._banks_cache

    def _finish(self, content: Content, hashed: Hashed, deep: bool | None) -> ScanResult:
        result = ScanResult(content.item, content.kind, list(hashed.signals), warnings=list(hashed.warnings), error=hashed.error)
        result.matches, result.suppressed = self._decide(hashed.signals)
        result.warnings.extend(self._index_warnings(hashed.signals))
        if self._wants_deep(content, result, deep):
            result.deep = True
            # OCR and other extractors are costly: run them only when some block bank wants them
            # (bank option "ocr", on unless a bank sets it to false).
            wanted = any(b.options.get("ocr", True) for b in self._enabled_banks().values() if b.kind == "block")
            for extractor in self.extractors if wanted else ():
                if content.kind in extractor.kinds:
                    try:
                        extractor.extract(content)
                    except ContentError as exc:
                        result.warnings.append(f"{extractor.name}: {exc}")
            deep_hashed = hash_content(self.registry, content, deep=True)
            if deep_hashed.error:
                result.warnings.append(deep_hashed.error)
            result.warnings.extend(w for w in deep_hashed.warnings if w not in result.warnings)  # e.g. too flat for keypoints
            result.signals.extend(deep_hashed.signals)
            # The cheap pass found no block match, so the deep pass's decision stands on its own.
            more, more_suppressed = self._decide(deep_hashed.signals)
            result.matches.extend(more)
            result.suppressed.extend(more_suppressed)
            result.warnings.extend(w for w in self._index_warnings(deep_hashed.signals) if w not in result.warnings)
        content.derived.clear()  # derived content (decoded pixels, OCR) is never kept
        return result

    def _index_warnings(self, signals: Sequence[Signal]) -> list[str]:
        """Problems an index reported while matching (e.g. text_xling bank vectors of another model)."""
        loaded = self.indexes.sizes()  # only indices already loaded by matching: never load one just to ask
        names = dict.fromkeys(s.type for s in signals if s.type in loaded)
        return [w for w in (getattr(self.indexes.index(n), "warning", None) for n in names) if w]

    def _wants_deep(self, content: Content, result: ScanResult, deep: bool | None) -> bool:
        if deep is False or content.kind not in ("image", "video"):
            return False
        if any(m.bank_kind == "block" for m in result.matches):
            return False  # already decided: skip the costly pass
        return True if deep else self.settings.deep_scan

    def _decide(self, signals: Sequence[Signal]) -> tuple[list[Match], list[Match]]:
        if not signals:
            return [], []
        banks = self._enabled_banks()
        if not banks:
            return [], []
        by_type: dict[str, list[Signal]] = {}
        for signal in signals:
            by_type.setdefault(signal.type, []).append(signal)
        matches: list[Match] = []
        refs: dict[int, SignalRef] = {}

        def lookup(signal_ids: Sequence[int]) -> dict[int, tuple[int, Signal]]:
            missing = [i for i in signal_ids if i not in refs]
            if missing:
                refs.update(self.banks.describe_signals(missing))
            return {i: (refs[i].item_id, refs[i].signal) for i in signal_ids if i in refs}

        for type_name, queries in by_type.items():
            if type_name not in self.registry:
                continue
            signal_type = self.registry.get(type_name)
            thresholds = {bid: float(b.thresholds.get(type_name, signal_type.default_threshold)) for bid, b in banks.items()}
            loosest = max(thresholds.values()) if signal_type.metric == "distance" else min(thresholds.values())
            # max_threshold is the loosest value the type's index can answer exactly.
            if signal_type.metric == "distance":
                loosest = min(loosest, signal_type.max_threshold)
            else:
                loosest = max(loosest, signal_type.max_threshold)
            candidates = signal_type.match(queries, self.indexes.index(type_name), loosest, lookup)
            lookup([sid for c in candidates for sid in c.signal_ids])
            matches.extend(self._to_matches(candidates, refs, banks, thresholds, signal_type.metric, type_name))
        return _apply_allow(_best_per_item(matches))

    @staticmethod
    def _to_matches(
        candidates: Iterable[Candidate],
        refs: dict[int, SignalRef],
        banks: dict[int, Bank],
        thresholds: dict[int, float],
        metric: str,
        type_name: str,
    ) -> Iterator[Match]:
        for candidate in candidates:
            ref = refs.get(candidate.signal_ids[0])
            if ref is None or not ref.item_enabled or ref.bank_id not in banks:
                continue  # removed meanwhile, or disabled
            bank = banks[ref.bank_id]
            threshold = thresholds[bank.id]
            value = candidate.distance if metric == "distance" else candidate.score
            if value is None or not within(metric, value, threshold):
                continue
            yield Match(
                bank=bank.name,
                bank_kind=bank.kind,
                bank_item=ref.external_id,
                bank_item_id=ref.item_id,
                item_labels=ref.item_labels,
                signal_type=type_name,
                threshold=threshold,
                distance=candidate.distance,
                score=candidate.score,
                evidence=candidate.evidence,
            )


def _best_per_item(matches: list[Match]) -> list[Match]:
    """One match per (bank item, signal type): the closest one."""
    best: dict[tuple[int, str], Match] = {}
    for match in matches:
        key = (match.bank_item_id, match.signal_type)
        prev = best.get(key)
        if prev is None or _closer(match, prev):
            best[key] = match
    return sorted(best.values(), key=lambda m: (m.bank, m.bank_item, m.signal_type))


def _closer(a: Match, b: Match) -> bool:
    if a.distance is not None and b.distance is not None:
        return a.distance < b.distance
    return (a.score or 0.0) > (b.score or 0.0)


def _apply_allow(matches: list[Match]) -> tuple[list[Match], list[Match]]:
    """Allow-bank matches suppress block matches of the same signal type (collision-prone content)."""
    allow = {m.signal_type: m for m in matches if m.bank_kind == "allow"}
    kept: list[Match] = []
    suppressed: list[Match] = []
    for match in matches:
        if match.bank_kind == "block" and match.signal_type in allow:
            hit = allow[match.signal_type]
            match.suppressed_by = f"{hit.bank}/{hit.bank_item}"
            suppressed.append(match)
        elif match.bank_kind == "block":
            kept.append(match)
    return kept, suppressed
