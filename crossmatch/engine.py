"""The one place that runs extract -> hash -> match -> decide.

The CLI, the API, batch jobs and tests all call :class:`Engine`; nothing else
implements matching.  Signal types do their own per-type decision in
``match``; the engine applies per-bank thresholds, skips disabled banks and
items, lets allow matches suppress the block matches they cover
(:mod:`crossmatch.allow`), and runs the costly deep pass (``hash_deep``,
extractors such as OCR) only when the cheap pass decided nothing.

Matching reads one immutable index version per scan and takes no lock, so a
server answers many lookups at once.  With a :class:`HashPool` (servers),
hashing, decoding and OCR run in worker processes; a ``deadline`` bounds the
deep pass, and a result whose deep pass was cut off says so (``incomplete``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from crossmatch.allow import apply_allow
from crossmatch.banks.service import BankService, SignalRef
from crossmatch.hashing import BatchHasher, DeepHashed, Hashed, HashPool, deep_hash, hash_content
from crossmatch.index.manager import IndexManager, IndexVersion
from crossmatch.items import ItemError
from crossmatch.settings import Settings
from crossmatch.signals.base import Candidate, Content, Extractor, Signal, within
from crossmatch.signals.registry import SignalRegistry
from crossmatch.store.models import Bank

log = logging.getLogger(__name__)


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
    # Deep-pass stages the deadline cut off: the item was not fully checked (fail closed).
    incomplete: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every pass that should have run did, without error: only then does "no match" mean clean."""
        return self.error is None and not self.incomplete

    def to_json(self, with_signals: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item": self.item,
            "kind": self.kind,
            "matches": [m.to_json() for m in self.matches],
            "error": self.error,
            "complete": self.complete,
        }
        if self.incomplete:
            out["incomplete"] = self.incomplete
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
        pool: HashPool | None = None,
    ) -> None:
        self.settings = settings
        self.banks = banks
        self.registry = registry
        self.indexes = indexes
        self.extractors = list(extractors)
        self.pool = pool

    # -- hash ------------------------------------------------------------
    def hash(self, content: Content) -> Hashed:
        on_demand = self.on_demand_types()
        return self.pool.hash(content, on_demand=on_demand) if self.pool else hash_content(self.registry, content, on_demand=on_demand)

    def on_demand_types(self, version: IndexVersion | None = None) -> frozenset[str]:
        """The costly on-demand types (TMK+PDQF) worth computing for a query: those some bank holds signals of."""
        version = version or self.indexes.current()
        return frozenset(t.name for t in self.registry if getattr(t, "on_demand", False)
                         and len(self.indexes.index(t.name, version)) > 0)

    def hash_for_bank(self, content: Content) -> Hashed:
        """Signals to store for a bank item: no query-only variants, plus bank-only extras."""
        return self.pool.hash(content, for_bank=True) if self.pool else hash_content(self.registry, content, for_bank=True)

    # -- scan ------------------------------------------------------------
    def scan(self, content: Content, deep: bool | None = None, deadline: float | None = None,
             hash_deadline: float | None = None) -> ScanResult:
        """Hash, match and decide one item.  ``deadline`` (``time.time()``) bounds the deep pass,
        ``hash_deadline`` the parts of a long text (what they cut off is listed in ``incomplete``).

        Never raises for the item's sake: whatever fails comes back as the result's ``error``
        (``complete`` false), so no caller can mistake a failure for "no match"."""
        try:
            if self.pool is not None:
                wants = self._may_go_deep(content, deep)
                hashed, deeper = self.pool.scan(content, wants, deadline, self._ocr_wanted(self.indexes.current()), hash_deadline,
                                                self.on_demand_types())
                return self._finish(content, hashed, deep, deeper=deeper)  # matched against the version current now
            hashed = hash_content(self.registry, content, deadline=hash_deadline, on_demand=self.on_demand_types())
            return self._finish(content, hashed, deep, deadline=deadline)
        except Exception as exc:  # noqa: BLE001 - fail closed, visibly
            return _failed(content, exc)

    def scan_many(
        self, items: Iterable[Content | ItemError], deep: bool | None = None, workers: int | None = None
    ) -> Iterator[ScanResult]:
        """Scan a stream; bad items become error results in their place and the batch goes on."""
        hasher = BatchHasher(self.settings, self.registry, workers, on_demand=self.on_demand_types())
        for entry, hashed in hasher.map(items):
            if isinstance(entry, ItemError):
                yield ScanResult(entry.item, "unknown", error=entry.error)
            else:
                assert hashed is not None
                try:
                    yield self._finish(entry, hashed, deep)
                except Exception as exc:  # noqa: BLE001 - the batch goes on; this item says it was not checked
                    yield _failed(entry, exc)

    def lookup(self, signals: Sequence[Signal]) -> list[Match]:
        """Match given signals (e.g. from a hash list or the API) against enabled banks."""
        return self.match_signals(signals)[0]

    def match_signals(self, signals: Sequence[Signal]) -> tuple[list[Match], list[Match]]:
        """(block matches, block matches an allow match suppressed) for given signals."""
        for signal in signals:
            self.registry.get(signal.type).validate(signal.value)
        return apply_allow(self._decide(signals, self.indexes.current()))

    # -- internals ---------------------------------------------------------
    def _finish(self, content: Content, hashed: Hashed, deep: bool | None, version: IndexVersion | None = None,
                deeper: DeepHashed | None = None, deadline: float | None = None) -> ScanResult:
        version = version or self.indexes.current()
        result = ScanResult(content.item, content.kind, list(hashed.signals), warnings=list(hashed.warnings), error=hashed.error,
                            incomplete=list(hashed.incomplete))
        everything = self._decide(hashed.signals, version, result.warnings)  # allow matches included: the rule runs last
        if self._wants_deep(content, apply_allow(everything)[0], deep):
            if deeper is None:  # in this process (CLI, batch jobs): only now that the cheap pass decided nothing
                deeper = deep_hash(self.registry, self.extractors, content, deadline, self._ocr_wanted(version))
            result.deep = True
            result.incomplete += deeper.incomplete
            result.warnings.extend(w for w in deeper.warnings if w not in result.warnings)
            if deeper.error:
                result.warnings.append(deeper.error)
            result.signals.extend(deeper.signals)
            # One allow rule over both passes: a whole-upload allow match from the cheap pass
            # covers deep-pass region matches, and nothing else does.
            everything = _best_per_item(everything + self._decide(deeper.signals, version, result.warnings))
        found, hidden = apply_allow(everything)
        result.matches, result.suppressed = found, hidden
        content.derived.clear()  # derived content (decoded pixels, OCR) is never kept
        return result

    def _ocr_wanted(self, version: IndexVersion) -> bool:
        # OCR and other extractors are costly: run them only when some block bank wants them
        # (bank option "ocr", on unless a bank sets it to false).
        return any(b.options.get("ocr", True) for b in version.banks.values() if b.kind == "block")

    def _may_go_deep(self, content: Content, deep: bool | None) -> bool:
        if deep is False or content.kind not in ("image", "video"):
            return False
        return True if deep else self.settings.deep_scan

    def _wants_deep(self, content: Content, cheap: list[Match], deep: bool | None) -> bool:
        if any(m.bank_kind == "block" for m in cheap):
            return False  # already decided: skip the costly pass
        return self._may_go_deep(content, deep)

    def _decide(self, signals: Sequence[Signal], version: IndexVersion, warnings: list[str] | None = None) -> list[Match]:
        """Every match within its bank's threshold, block and allow, one per (bank item, signal type).

        Problems an index reports while matching (e.g. text_xling bank vectors of another model)
        are added to ``warnings``."""
        if not signals or not version.banks:
            return []
        banks = version.banks
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
            index = self.indexes.index(type_name, version)
            candidates = signal_type.match(queries, index, loosest, lookup)
            note = getattr(index, "warning", None)
            if note and warnings is not None and note not in warnings:
                warnings.append(note)
            lookup([sid for c in candidates for sid in c.signal_ids])
            matches.extend(self._to_matches(candidates, refs, banks, thresholds, signal_type.metric, type_name))
        return _best_per_item(matches)

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
            evidence = candidate.evidence
            if bank.kind == "allow" and _part_of_item(ref.signal):
                evidence = {**evidence, "bank_part": True}  # a crop or window of the allow item: it vouches for nothing
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
                evidence=evidence,
            )


def _failed(content: Content, exc: Exception) -> ScanResult:
    log.exception("%s: scan failed", content.item)
    content.derived.clear()
    return ScanResult(content.item, content.kind, error=(
        f"{content.item}: matching failed ({type(exc).__name__}: {str(exc)[:200]}); the item was not checked: "
        "retry it, and report this if it repeats"))


def _best_per_item(matches: list[Match]) -> list[Match]:
    """One match per (bank item, signal type): the closest one."""
    best: dict[tuple[int, str], Match] = {}
    for match in matches:
        match.suppressed_by = None  # decided afresh by the allow rule
        key = (match.bank_item_id, match.signal_type)
        prev = best.get(key)
        if prev is None or _closer(match, prev):
            best[key] = match
    return sorted(best.values(), key=lambda m: (m.bank, m.bank_item, m.signal_type))


def _part_of_item(signal: Signal) -> bool:
    """A bank signal of part of its item: an image region or crop, a window of a text."""
    meta = signal.meta or {}
    return bool(meta.get("bank_only") or "region" in meta or meta.get("scope") == "window"
                or (meta.get("variant") not in (None, "original", "trimmed") and "box" in meta))


def _closer(a: Match, b: Match) -> bool:
    if a.distance is not None and b.distance is not None:
        return a.distance < b.distance
    return (a.score or 0.0) > (b.score or 0.0)
