"""text_near: same-language near-duplicate text via MinHash over shingles.

A signal is the MinHash (datasketch >= 2 "affine32" scheme, seed 1, SHA-1 32-bit) of
the shingles of a text's matching key (normalised, then every diacritic
dropped), serialised as ``mh1:<num_perm>:<base64 of little-endian uint32>``.
The score is the estimated Jaccard similarity (share of equal values).  A
whole document gives one signal; long documents also give one per window of
sentences, so a post quoting part of a known text still matches.  Images and
videos get signals in the deep pass from their OCR text.
"""

from __future__ import annotations

import base64
import binascii
from typing import Sequence

import numpy as np
import regex

from crossmatch.index.brute import BruteForceIndex
from crossmatch.index.minhash_lsh import MinHashLSHIndex, jaccard_estimate
from crossmatch.settings import Settings, TextNearSettings
from crossmatch.signals.base import BankSignalLookup, Candidate, Content, InvalidSignal, Signal, SignalIndex, match_each
from crossmatch.text.extract import TextAnalysis, analyse
from crossmatch.text.langid import LanguageIdentifier
from crossmatch.text.normalize import skeleton
from crossmatch.text.segment import windows

NAME = "text_near"
PREFIX = "mh1"
SKIPPED_KEY = "skipped"  # content.derived["skipped"][NAME] says why no signal was made
SHINGLE_SIZE = 5  # characters; chosen over word 3-grams by eval/text_near.py
WINDOW_SENTENCES, WINDOW_STRIDE, MAX_WINDOWS = 6, 3, 200
_BATCH = 4096  # shingles hashed per numpy batch: bounds memory to ~4 MB whatever the text size
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")


def shingles(text: str, size: int = SHINGLE_SIZE) -> set[bytes]:
    """Character ``size``-grams of the matching key of normalised ``text`` (punctuation dropped)."""
    key = " ".join(_TOKEN.findall(skeleton(text)))
    if len(key) < size:
        return {key.encode()} if key else set()
    return {key[i : i + size].encode() for i in range(len(key) - size + 1)}


def minhash_values(grams: set[bytes], num_perm: int) -> np.ndarray:
    from datasketch import MinHash  # imports scipy: only when text is hashed, not at CLI start-up

    mh = MinHash(num_perm=num_perm, seed=1, scheme="affine32")  # explicit: values must not change with datasketch defaults
    batch = list(grams)
    for i in range(0, len(batch), _BATCH):
        mh.update_batch(batch[i : i + _BATCH])
    return mh.hashvalues.astype("<u4")


def encode(values: np.ndarray) -> str:
    return f"{PREFIX}:{len(values)}:{base64.b64encode(values.astype('<u4').tobytes()).decode()}"


def decode(value: str) -> np.ndarray:
    parts = value.strip().split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit():
        raise InvalidSignal(f"text_near value must look like '{PREFIX}:<num_perm>:<base64>', got {value[:60]!r}")
    num_perm = int(parts[1])
    if not 8 <= num_perm <= 1024:
        raise InvalidSignal(f"text_near num_perm must be 8..1024, got {num_perm}")
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignal(f"text_near value has invalid base64: {parts[2][:40]!r}") from None
    if len(raw) != 4 * num_perm:
        raise InvalidSignal(f"text_near value has {len(raw)} bytes, expected {4 * num_perm} for num_perm={num_perm}")
    return np.frombuffer(raw, dtype="<u4")


class TextNear:
    name = NAME
    content_kinds = frozenset({"text", "image", "video"})
    metric = "score"
    default_threshold = 0.3  # estimated Jaccard; chosen on FLORES documents, see eval/results/text_near.md

    def __init__(self, settings: TextNearSettings, max_chars: int, langid: LanguageIdentifier) -> None:
        self._settings = settings
        self._max_chars = max_chars
        self._langid = langid
        self.max_threshold = settings.lsh_threshold  # the loosest threshold the LSH answers without scanning

    def validate(self, value: str) -> str:
        values = decode(value)
        if len(values) != self._settings.num_perm:
            raise InvalidSignal(f"text_near value has num_perm={len(values)}, this installation uses {self._settings.num_perm}")
        return encode(values)

    def hash(self, content: Content) -> list[Signal]:
        if content.kind != "text":
            return []  # media text comes from OCR, in the deep pass
        return self._signals(content)

    def hash_deep(self, content: Content) -> list[Signal]:
        if content.kind == "text":
            return []  # already hashed in the cheap pass
        return self._signals(content)

    def _signals(self, content: Content) -> list[Signal]:
        analysis = analyse(content, self._langid, self._max_chars)
        if analysis is None:
            return []
        out = []
        whole = self._signal(analysis, analysis.normalized.text, 0, len(analysis.normalized.original), "document")
        if whole is None:
            n = len(shingles(analysis.normalized.text))
            content.derived.setdefault(SKIPPED_KEY, {})[NAME] = (
                f"{content.item}: text too short for text_near ({n} shingles of {SHINGLE_SIZE} characters, "
                f"need {self._settings.min_shingles})"
            )
            return []
        out.append(whole)
        if len(analysis.chunks) > WINDOW_SENTENCES:
            for win in windows(list(analysis.chunks), WINDOW_SENTENCES, WINDOW_STRIDE, MAX_WINDOWS):
                signal = self._signal(analysis, win.text, win.start, win.end, "window")
                if signal is not None and signal.value != whole.value:
                    out.append(signal)
        return out

    def _signal(self, analysis: TextAnalysis, text: str, start: int, end: int, scope: str) -> Signal | None:
        grams = shingles(text)
        if len(grams) < self._settings.min_shingles:
            return None
        meta = {"scope": scope, "start": start, "end": end, "shingles": len(grams),
                "lang": analysis.language.lang, "script": analysis.language.script, "source": analysis.source}
        return Signal(NAME, encode(minhash_values(grams, self._settings.num_perm)), meta=meta)

    def compare(self, a: Signal, b: Signal) -> float:
        va, vb = decode(a.value), decode(b.value)
        return jaccard_estimate(va, vb) if len(va) == len(vb) else 0.0

    def examples(self) -> list[Signal]:
        texts = [
            "The quick brown fox jumps over the lazy dog near the river bank.",
            "Быстрая коричневая лиса перепрыгивает через ленивую собаку у реки.",
            "الثعلب البني السريع يقفز فوق الكلب الكسول بالقرب من ضفة النهر.",
        ]
        return [self.hash(Content(item=f"example-{i}", kind="text", text=t))[0] for i, t in enumerate(texts)]

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "score")

    def fast_index(self) -> SignalIndex:
        return MinHashLSHIndex(self._settings.num_perm, self._settings.lsh_threshold, lambda s: decode(s.value))

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float, lookup: BankSignalLookup) -> list[Candidate]:
        """One candidate per bank item: its best (query part, bank part) pair, with spans as evidence."""
        hits = match_each(self, queries, index, threshold)
        if not hits:
            return []
        owners = lookup([c.signal_ids[0] for c in hits])
        best: dict[int, Candidate] = {}
        for cand in hits:
            item_id, bank_signal = owners.get(cand.signal_ids[0], (None, None))
            if item_id is None:
                continue
            query_meta = cand.evidence.get("query_meta", {})
            evidence = {
                "jaccard": cand.score,
                "query_span": [query_meta.get("start"), query_meta.get("end")],
                # The same as text_xling's: the query passages this match rests on (original-text offsets).
                "query_spans": [[query_meta.get("start"), query_meta.get("end")]],
                "query_scope": query_meta.get("scope"),
                "bank_span": [bank_signal.meta.get("start"), bank_signal.meta.get("end")] if bank_signal.meta else None,
                "lang": query_meta.get("lang"),
            }
            prev = best.get(item_id)
            if prev is None or cand.score > prev.score:
                best[item_id] = Candidate(cand.signal_ids, score=cand.score, evidence=evidence)
        return list(best.values())


def create(settings: Settings) -> TextNear:
    return TextNear(settings.text_near, settings.text.max_chars, LanguageIdentifier.from_settings(settings))
