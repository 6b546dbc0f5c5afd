"""``text_xling``: cross-lingual text matching with per-chunk sentence embeddings.

A text is normalised, split into sentence chunks and each chunk embedded with
a multilingual model; each chunk is one signal.  Matching is decided per bank
item by :mod:`crossmatch.text.align` (margins, monotonic alignment, number
checks), so the evidence lists which query sentences reuse which bank
sentences and how much of the bank item is covered.

Signal value: base64 of the float16 vector (768 bytes for e5-small; int8
would halve it, see eval/results/text.md for the measured loss).
Signal meta: chunk position and count, span into the original text, language,
model id, digit groups and name skeletons (for the checks; the bank's text
itself is not kept), and for query signals a text snippet for evidence.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import replace
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from crossmatch.index.brute import BruteForceIndex
from crossmatch.index.vectors import VectorIndex
from crossmatch.settings import Settings
from crossmatch.signals.base import BankSignalLookup, Candidate, Content, InvalidSignal, Signal, SignalIndex
from crossmatch.text.align import ChunkInfo, DecisionConfig, match_document
from crossmatch.text.background import load_background
from crossmatch.text.embed import EmbeddingBackend, create_backend
from crossmatch.text.entities import name_keys, numbers
from crossmatch.text.extract import analyse
from crossmatch.text.langid import LanguageIdentifier
from crossmatch.text.respell import embedding_text

NAME = "text_xling"
log = logging.getLogger(__name__)
MIN_CHUNK_LETTERS = 3  # shorter chunks ("ok.", "1)") carry no meaning to match


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(value: str) -> np.ndarray:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignal(f"text_xling value is not base64: {exc}") from None
    if not raw or len(raw) % 2:
        raise InvalidSignal(f"text_xling value decodes to {len(raw)} bytes; expected a float16 vector")
    vector = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or abs(norm - 1.0) > 0.02:
        raise InvalidSignal(f"text_xling vector has norm {norm:.3f}; embeddings must be unit length")
    return vector / norm


def decode_signal(signal: Signal) -> np.ndarray:
    return decode_vector(signal.value)


class TextVectorIndex(VectorIndex):
    """The fast index for text_xling signals; loads from a snapshot with its decoder.

    Cosines between vectors of different models mean nothing, so an index
    made for ``model_id`` never searches a bank signal whose meta names
    another model: such signals are kept aside in ``foreign`` (signal id ->
    model id) and reported by :func:`model_mismatch_warning`.  Signals
    without a model in their meta (hash lists from other systems) are
    searched: there is nothing to check them against.
    """

    def __init__(self, dim: int, decode=decode_signal, model_id: str | None = None, **options: Any) -> None:
        super().__init__(dim, decode=decode, **options)
        self.model_id = model_id
        self.foreign: dict[int, str] = {}
        self.warning: str | None = None  # set by TextXlingType.match; the engine shows it with scan results
        self._warned_key: tuple | None = None

    def add(self, entries) -> None:
        own, foreign = [], {}
        for signal_id, signal in entries:
            model = (signal.meta or {}).get("model")
            if self.model_id is not None and model is not None and model != self.model_id:
                foreign[int(signal_id)] = str(model)
            else:
                own.append((signal_id, signal))
        if foreign:
            super().remove(foreign)  # a bank signal re-embedded with another model replaces its old vector
            self.foreign.update(foreign)
        for signal_id, _ in own:
            self.foreign.pop(int(signal_id), None)
        super().add(own)

    def remove(self, signal_ids) -> None:
        signal_ids = [int(i) for i in signal_ids]
        for signal_id in signal_ids:
            self.foreign.pop(signal_id, None)
        super().remove(signal_ids)

    def _header(self) -> dict:
        return {**super()._header(), "model_id": self.model_id, "foreign": {str(k): v for k, v in self.foreign.items()}}

    def _restore(self, header: dict) -> None:
        self.model_id = header.get("model_id")
        self.foreign = {int(k): v for k, v in header.get("foreign", {}).items()}


def model_mismatch_warning(index: TextVectorIndex, lookup: BankSignalLookup | None = None,
                           query_models: Sequence[str] = ()) -> str | None:
    """One message naming what is not searched because another model made it, and what to do."""
    if not index.foreign and not query_models:
        return None
    parts = []
    if index.foreign:
        by_model: dict[str, list[int]] = {}
        for signal_id, model in index.foreign.items():
            by_model.setdefault(model, []).append(signal_id)
        for model, ids in sorted(by_model.items()):
            ids.sort()
            items = sorted({item for item, _ in (lookup(ids[:200]) if lookup else {}).values()})
            where = (f"bank items {', '.join(map(str, items[:10]))}{' ...' if len(items) > 10 else ''}"
                     if items else f"signal ids {', '.join(map(str, ids[:10]))}{' ...' if len(ids) > 10 else ''}")
            parts.append(f"{len(ids)} bank signals ({where}) were embedded with model {model!r}")
    if query_models:
        parts.append(f"query signals were embedded with model(s) {', '.join(map(repr, sorted(set(query_models))))}")
    return (f"text_xling: {'; '.join(parts)}, but the configured embedding backend is {index.model_id!r}; "
            "vectors of different models cannot be compared, so they are NOT searched. Re-import those bank "
            "items from their source (crossmatch bank import <bank> <files>) with the current backend, or set "
            "text.embedding_backend back to the backend of that model.")


class TextXlingType:
    name = NAME
    content_kinds = frozenset({"text", "image", "video"})
    metric = "score"
    max_threshold = 0.0  # any positive document score is a weak match; see default_threshold

    def __init__(self, settings: Settings, backend: EmbeddingBackend | None = None,
                 config: DecisionConfig | None = None) -> None:
        self._settings = settings
        self._backend = backend
        self.config = config or DecisionConfig()
        self.default_threshold = self.config.threshold
        self._langid = None

    @property
    def backend(self) -> EmbeddingBackend:
        if self._backend is None:  # created on first use: loading a model is not free
            self._backend = create_backend(self._settings.text.embedding_backend, num_threads=self._settings.embedding_threads)
        return self._backend

    @cached_property
    def background(self) -> np.ndarray | None:
        """The shipped background vectors for this backend's model (None: none ship, or switched off)."""
        return load_background(self.backend.model_id) if self._settings.text.background_corpus else None

    # -- hashing ---------------------------------------------------------------------
    def validate(self, value: str) -> str:
        return encode_vector(decode_vector(value))

    def hash(self, content: Content) -> list[Signal]:
        if content.kind != "text":
            return []  # OCR text of images and video is the deep pass's job
        return self._signals(content)

    def hash_deep(self, content: Content) -> list[Signal]:
        if content.kind not in ("image", "video"):
            return []
        return self._signals(content)

    def embedded_texts(self, content: Content) -> list[str]:
        """The chunk texts that hashing ``content`` embeds, in order (one ``embed`` call per content)."""
        return [text for text, _ in self.prepare(content)]

    def _chunks(self, content: Content):
        analysis = analyse(content, self._language_identifier(), self._settings.text.max_chars)
        if analysis is None:
            return None, []
        return analysis, [c for c in analysis.chunks if sum(ch.isalpha() for ch in c.text) >= MIN_CHUNK_LETTERS]

    def prepare(self, content: Content) -> list[tuple[str, dict[str, Any]]]:
        """(text to embed, signal meta) per chunk of ``content``: everything of hashing but the embedding.

        The evaluation (eval/text.py) embeds these texts through its cache and
        builds the same chunk infos the signals carry.
        """
        analysis, chunks = self._chunks(content)
        if not chunks:
            return []
        lang = getattr(analysis.language, "lang", None)
        original = analysis.normalized.original
        out = []
        for position, chunk in enumerate(chunks):
            source = original[chunk.start : chunk.end]
            meta: dict[str, Any] = {
                "chunk": position, "chunks": len(chunks), "start": chunk.start, "end": chunk.end,
                "lang": lang, "model": self.backend.model_id,
                # Numbers and length from the normalised chunk: a disguise (zero-width or
                # combining marks, fancy digits) must not change them; names need the case of the source.
                "numbers": sorted(numbers(chunk.text)), "names": sorted(name_keys(source)),
                "length": len(chunk.text), "text": source[:200],
            }
            out.append((embedding_text(chunk.text, lang), meta))
        return out

    def _signals(self, content: Content) -> list[Signal]:
        prepared = self.prepare(content)
        if not prepared:
            return []
        vectors = self.backend.embed([text for text, _ in prepared], kind="query")
        return [Signal(NAME, encode_vector(vector), meta=meta) for (_, meta), vector in zip(prepared, vectors)]

    def _language_identifier(self):
        if self._langid is None:
            self._langid = LanguageIdentifier.from_settings(self._settings)
        return self._langid

    # -- comparing -----------------------------------------------------------------------
    def compare(self, a: Signal, b: Signal) -> float:
        return float(decode_vector(a.value) @ decode_vector(b.value))

    def examples(self) -> list[Signal]:
        rng = np.random.default_rng(384)
        out = []
        for position in range(3):
            v = rng.standard_normal(384).astype(np.float32)
            out.append(Signal(NAME, encode_vector(v / np.linalg.norm(v)),
                              meta={"chunk": position, "chunks": 3, "model": self.backend.model_id}))
        return out

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "score")

    def fast_index(self) -> SignalIndex | None:
        return TextVectorIndex(self.backend.dim, model_id=self.backend.model_id, codec=self._settings.scale.text_vector_codec)

    # -- deciding -------------------------------------------------------------------------
    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float,
              lookup: BankSignalLookup) -> list[Candidate]:
        queries = [q for q in queries if q.type == NAME]
        model = getattr(index, "model_id", None)
        other = [str(q.meta["model"]) for q in queries if model and (q.meta or {}).get("model") not in (None, model)]
        if other:  # e.g. signals hashed elsewhere and sent to lookup
            queries = [q for q in queries if (q.meta or {}).get("model") in (None, model)]
        if hasattr(index, "foreign"):  # a TextVectorIndex, or an index version over one
            self._warn_on_mismatch(index, lookup, other)
        if not queries or len(index) == 0:
            return []
        query_vectors = np.vstack([decode_vector(q.value) for q in queries])
        query_info = [_chunk_info(q, n, len(queries)) for n, q in enumerate(queries)]
        resolved_cache: dict[int, tuple[int, Signal]] = {}
        info_cache: dict[int, tuple[int, ChunkInfo]] = {}

        def resolve(ids: list[int]) -> dict[int, tuple[int, ChunkInfo]]:
            missing = [i for i in ids if i not in resolved_cache]
            if missing:
                for i, (item, signal) in lookup(missing).items():
                    resolved_cache[i] = (item, signal)
                    info_cache[i] = (item, _chunk_info(signal, 0, 1))
            return {i: info_cache[i] for i in ids if i in info_cache}

        if hasattr(index, "search") and hasattr(index, "vectors"):  # a VectorIndex, or an index version over one
            search, vectors = index.search, index.vectors
        else:  # any SignalIndex (the brute-force reference): same answers, slower
            search = _generic_search(index)
            vectors = lambda ids: np.vstack([decode_vector(resolved_cache[i][1].value) for i in ids])  # noqa: E731
        config = self.config if threshold == self.config.threshold else replace(self.config, threshold=threshold)
        candidates = []
        for decision in match_document(query_vectors, query_info, search, vectors, resolve, config, self.background,
                                       bank_size=len(index)):
            if decision.score < threshold:
                continue
            candidates.append(Candidate(
                signal_ids=tuple(sorted({p.bank_signal_id for p in decision.pairs})),
                score=round(decision.score, 4),
                # Which query passages this match rests on (the engine compares them with allow matches).
                evidence={"bank_item_id": decision.bank_item_id, **decision.evidence(),
                          "query_chunks": sorted({p.query.position for p in decision.pairs}),
                          "query_spans": [list(span) for span in sorted({(p.query.start, p.query.end) for p in decision.pairs
                                                 if p.query.start is not None})]},
            ))
        return candidates


    def _warn_on_mismatch(self, index: TextVectorIndex, lookup: BankSignalLookup, query_models: list[str]) -> None:
        """Set ``index.warning`` (the engine adds it to scan results) and log it once per state."""
        key = (len(index.foreign), frozenset(index.foreign.values()), frozenset(query_models))
        if index._warned_key == key:
            return
        index._warned_key = key
        index.warning = model_mismatch_warning(index, lookup, query_models)
        if index.warning:
            log.warning("%s", index.warning)


def _chunk_info(signal: Signal, default_position: int, default_count: int) -> ChunkInfo:
    m = signal.meta or {}
    return ChunkInfo(
        position=int(m.get("chunk", default_position)), n_chunks=int(m.get("chunks", default_count)),
        start=m.get("start"), end=m.get("end"), lang=m.get("lang"),
        numbers=frozenset(m.get("numbers", ())), names=frozenset(m.get("names", ())), text=m.get("text"),
        length=m.get("length"),
    )


def _generic_search(index: SignalIndex):
    def search(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(vectors), k), -np.inf, dtype=np.float32)
        ids = np.full((len(vectors), k), -1, dtype=np.int64)
        for r, v in enumerate(vectors):
            hits = sorted(index.query(Signal(NAME, encode_vector(v)), -1.0), key=lambda h: -(h.score or 0))[:k]
            for c, hit in enumerate(hits):
                scores[r, c], ids[r, c] = hit.score, hit.signal_id
        return scores, ids

    return search


def create(settings: Settings) -> TextXlingType:
    return TextXlingType(settings)
