"""Document-level decision for cross-lingual matches: margins, alignment, checks.

Retrieval is easy and the decision is hard: multilingual sentence embeddings
put any two texts on the same topic close together, so a raw cosine cut-off
flags news about the same event.  The decision therefore rests on what a
translation (or a quotation) preserves and a same-topic text does not:

1. each sentence pair must stand out from the rest of the bank and from a
   shipped background of news in the bank item's language (a ratio margin
   as in LASER's bitext mining: cos(x, y) divided by the mean cosine of x's
   k nearest chunks of OTHER bank items and background sentences), which
   removes "hub" sentences close to everything and keeps a threshold's
   meaning the same for small and large banks;
2. the aligned pairs must keep their order (a monotonic alignment, found by
   dynamic programming);
3. numbers in aligned pairs must agree where both sides have them, and
   lengths must be plausible;
4. a translation covers most of both texts, a quotation is a run of
   consecutive pairs (a chatty aside may sit between two of them), and one
   long quoted sentence counts more than a short one.  Names shared by both
   texts (transliterated consonant skeletons) are shown, not decided on.

One match lists every aligned pair so a reviewer sees exactly what was reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from crossmatch.text.background import Background
from crossmatch.text.entities import agreement, shared_names


@dataclass(frozen=True)
class DecisionConfig:
    """Defaults tuned on the FLORES/NTREX tuning half (eval/text.py); reported on the other half."""

    k: int = 4  # neighbours in the margin's denominator (as LASER)
    search_k: int = 16  # bank chunks looked at per query chunk
    background_cos: float = 0.85  # typical e5 cosine between unrelated texts; pads small banks
    # Banks with fewer chunks than this borrow the shipped background corpus as part of the
    # margin's neighbourhood; None: every bank does, so a threshold means the same for a bank of
    # 10 chunks and of 100,000 (eval/text.py measures 10, 100 and 755).
    background_below_chunks: int | None = None
    cos_floor: float = 0.80  # below this a hit is never evidence (e5 cosines of unrelated text ~0.75)
    pair_margin: float = 1.0  # a chunk pair can align only above this margin
    lone_pair_weight: float = 0.5  # one aligned pair of multi-chunk documents is weak evidence
    coverage_weight: float = 2.0  # boost for documents aligned over most of both sides (translations)
    run_weight: float = 2.0  # runs of consecutive aligned pairs (quoted passages) count this much as coverage
    run_min_margin: float = 1.03  # pairs weaker than this never form a run
    run_query_gap: int = 1  # query chunks (chatter) allowed between two pairs of a run
    run_cap: int | None = None  # a run this long counts in full, whatever the documents' length (None: relative)
    # A lone pair whose chunks both have this many characters (0: no such rule) is weighed by
    # long_weight instead of lone_pair_weight: one long quoted sentence counts (tuning split, all 755
    # chunks, at 0.1 % false matches: 1-sentence excerpts 12.5 -> 26.4 %, documents 89.0 -> 88.1 %).
    long_chars: int = 120
    long_weight: float = 2.0
    monotonic: bool = True  # aligned pairs must keep their order
    number_veto: bool = True  # pairs whose digit groups are disjoint cannot align
    length_ratio: float = 3.0  # pairs whose lengths differ more than this cannot align (0: off)
    # Document score needed for a match (the type's default threshold): the lowest score that
    # keeps the tuning split at <= 0.1 % false matches on banks of ~10, ~100 and 839 chunks
    # alike (0.1181, rounded up; eval/text.py).
    threshold: float = 0.12


@dataclass(frozen=True)
class ChunkInfo:
    """What the decision needs to know about one chunk (query or bank side)."""

    position: int  # chunk index within its document
    n_chunks: int  # chunks in the document
    start: int | None = None
    end: int | None = None
    lang: str | None = None
    numbers: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    text: str | None = None  # query side only: bank text is not kept
    length: int | None = None  # characters after normalisation (disguises inflate end - start)


@dataclass
class AlignedPair:
    query: ChunkInfo
    bank: ChunkInfo
    bank_signal_id: int
    cosine: float
    margin: float
    numbers_agree: float | None

    def evidence(self) -> dict:
        out = {
            "query_chunk": self.query.position,
            "query_start": self.query.start,
            "query_end": self.query.end,
            "query_lang": self.query.lang,
            "bank_signal_id": self.bank_signal_id,
            "bank_chunk": self.bank.position,
            "bank_start": self.bank.start,
            "bank_end": self.bank.end,
            "bank_lang": self.bank.lang,
            "score": round(self.margin, 4),
            "cosine": round(self.cosine, 4),
        }
        if self.query.text is not None:
            out["query_text"] = self.query.text[:200]
        if self.numbers_agree is not None:
            out["numbers_agree"] = round(self.numbers_agree, 3)
        return out


@dataclass
class ItemDecision:
    bank_item_id: int
    score: float
    pairs: list[AlignedPair] = field(default_factory=list)
    bank_coverage: float = 0.0
    query_coverage: float = 0.0
    features: dict = field(default_factory=dict)

    def evidence(self) -> dict:
        return {
            "aligned": [p.evidence() for p in self.pairs],
            "bank_coverage": round(self.bank_coverage, 3),
            "query_coverage": round(self.query_coverage, 3),
            **{k: v for k, v in self.features.items()},
        }


def monotonic_alignment(scores: np.ndarray, floor: float) -> list[tuple[int, int]]:
    """Pairs (i, j), increasing in both, maximising the sum of ``score - floor`` over pairs >= floor.

    A weighted longest-common-subsequence: O(m*n), fine for documents of a
    few hundred chunks; written by hand because no library offers it for a
    score matrix with a floor.
    """
    m, n = scores.shape
    gain = np.where(scores >= floor, scores - floor + 1e-6, -np.inf)
    best = np.zeros((m + 1, n + 1))
    for i in range(1, m + 1):
        row, prev, g = best[i], best[i - 1], gain[i - 1]
        for j in range(1, n + 1):
            take = prev[j - 1] + g[j - 1]
            row[j] = max(prev[j], row[j - 1], take)
    pairs, i, j = [], m, n
    while i > 0 and j > 0:
        if best[i, j] == best[i - 1, j]:
            i -= 1
        elif best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
    return pairs[::-1]


def decide_item(
    bank_item_id: int,
    query: Sequence[ChunkInfo],
    bank: Sequence[ChunkInfo],
    bank_signal_ids: Sequence[int],
    cos: np.ndarray,
    margin: np.ndarray,
    config: DecisionConfig,
) -> ItemDecision:
    """Align one query document with the hit chunks of one bank item and score it.

    ``cos`` and ``margin`` are (len(query), len(bank)).  The score sums each
    aligned pair's margin excess (margin - pair_margin): several modest pairs
    in order outweigh one striking pair, which is what separates a
    translation or a quotation from a text on the same topic.  It does not
    need full coverage: a post quoting two sentences of a long bank item
    still scores on its pairs, and coverage of both sides only adds to it.
    """
    usable = np.where(margin > config.pair_margin, margin, -np.inf)
    for i, q in enumerate(query):
        for j, b in enumerate(bank):
            if config.number_veto and agreement(q.numbers, b.numbers) == 0.0:
                usable[i, j] = -np.inf
            if config.length_ratio and not _lengths_compatible(q, b, config.length_ratio):
                usable[i, j] = -np.inf
    pairs = monotonic_alignment(usable, config.pair_margin) if config.monotonic else greedy_alignment(usable, config.pair_margin)
    aligned = [
        AlignedPair(
            query[i], bank[j], int(bank_signal_ids[j]), float(cos[i, j]), float(margin[i, j]),
            agreement(query[i].numbers, bank[j].numbers),
        )
        for i, j in pairs
    ]
    decision = ItemDecision(bank_item_id, 0.0, aligned)
    if not aligned:
        return decision
    n_query, n_bank = query[0].n_chunks, bank[0].n_chunks
    decision.bank_coverage = len({p.bank.position for p in aligned}) / max(1, n_bank)
    decision.query_coverage = len({p.query.position for p in aligned}) / max(1, n_query)
    score = sum(p.margin - config.pair_margin for p in aligned)
    if len(aligned) == 1:
        # One aligned sentence of a multi-sentence text is weak evidence, unless it is long:
        # a long sentence carries enough specific content to be quoted, not paraphrased.
        lengths = [_length(aligned[0].query), _length(aligned[0].bank)]
        if config.long_chars and all(n is not None and n >= config.long_chars for n in lengths):
            score *= config.long_weight
        elif min(n_query, n_bank) > 1:
            score *= config.lone_pair_weight
    # A translation covers most of both documents; a same-topic text shares a
    # few sentences with either.  (On the tuning split this raised recall at
    # zero false matches from 88% to 94%.)
    # A quotation reuses consecutive sentences in order: pairs adjacent on
    # both sides count as a run, relative to the shorter document.
    # Only clear pairs form runs: a chain of barely-aligned same-topic sentences is no quotation.
    # A chatty post may put an aside between two quoted sentences: up to run_query_gap query
    # chunks may separate two pairs of a run (the bank side stays consecutive).
    in_runs = {(p.query.position, p.bank.position) for p in aligned if p.margin >= config.run_min_margin}
    steps = range(1, config.run_query_gap + 2)
    linked = sum(1 for i, j in in_runs if any((i + d, j + 1) in in_runs or (i - d, j - 1) in in_runs for d in steps))
    # A run of run_cap pairs is a quotation whatever the length of the texts around it.
    shorter = min(n_query, n_bank) if config.run_cap is None else min(n_query, n_bank, config.run_cap)
    run_share = min(1.0, linked / max(1, shorter))
    boost = max(min(decision.bank_coverage, decision.query_coverage), config.run_weight * run_share)
    score *= 1.0 + config.coverage_weight * boost
    decision.score = float(score)
    query_names = frozenset().union(*(q.names for q in query))
    bank_names = frozenset().union(*(b.names for b in bank))
    decision.features = {"pairs": len(aligned), "pairs_in_runs": round(run_share, 3),
                         "mean_margin": round(float(np.mean([p.margin for p in aligned])), 4),
                         # names (transliteration skeletons) both texts spell: shown, not decided on
                         "names_shared": shared_names(query_names, bank_names)}
    return decision


def greedy_alignment(scores: np.ndarray, floor: float) -> list[tuple[int, int]]:
    """One-to-one pairs >= floor, best first, order ignored (the ablation of monotonic_alignment)."""
    pairs, used_i, used_j = [], set(), set()
    for flat in np.argsort(-scores, axis=None):
        i, j = divmod(int(flat), scores.shape[1])
        if not scores[i, j] >= floor:
            break
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return sorted(pairs)


def _lengths_compatible(a: ChunkInfo, b: ChunkInfo, ratio: float) -> bool:
    la, lb = _length(a), _length(b)
    if la is None or lb is None:
        return True
    return max(la, lb) / min(la, lb) <= ratio


def _length(chunk: ChunkInfo) -> int | None:
    # The normalised length when known: zero-width characters or a combining mark
    # after every letter would otherwise double a disguised chunk's span.
    if chunk.length is not None:
        return max(1, chunk.length)
    if chunk.start is None or chunk.end is None:
        return None
    return max(1, chunk.end - chunk.start)


# -- the search side ---------------------------------------------------------------

NeighbourSearch = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


BankResolver = Callable[[list[int]], dict[int, tuple[int, ChunkInfo]]]
BankVectors = Callable[[list[int]], np.ndarray]


def match_document(
    query_vectors: np.ndarray,
    query: Sequence[ChunkInfo],
    search: NeighbourSearch,
    bank_vectors: BankVectors,
    resolve: BankResolver,
    config: DecisionConfig,
    background: Background | None = None,
    bank_size: int | None = None,
) -> list[ItemDecision]:
    """All bank items that one query document aligns with, best first (score > 0).

    ``search(vectors, k)`` returns the bank's top-k (cosines, signal ids);
    ``bank_vectors`` and ``resolve`` give bank chunks' vectors and their
    (bank item id, ChunkInfo).  ``background`` (crossmatch/text/background.py)
    joins the margin's neighbourhood, in the bank item's language, unless
    the bank (``bank_size`` chunks; unknown counts as small) is at least
    ``config.background_below_chunks`` (None: always).
    """
    if len(query) == 0:
        return []
    limit = config.background_below_chunks
    use_background = background is not None and (limit is None or bank_size is None or bank_size < limit)
    scores, ids = search(query_vectors, max(config.search_k, config.k + 1))
    hit_ids = sorted({int(i) for s_row, i_row in zip(scores, ids) for s, i in zip(s_row, i_row) if i >= 0 and s >= config.cos_floor})
    if not hit_ids:
        return []
    # Resolve every searched id: the margin needs to know which neighbours belong to other items.
    resolved = resolve(sorted({int(i) for row in ids for i in row if i >= 0}))
    hit_ids = [i for i in hit_ids if i in resolved]
    vectors = bank_vectors(hit_ids)
    by_item: dict[int, list[int]] = {}
    for n, signal_id in enumerate(hit_ids):
        by_item.setdefault(resolved[signal_id][0], []).append(n)
    item_of = {i: item for i, (item, _) in resolved.items()}
    neighbourhoods = Neighbourhoods(scores, ids, item_of, config, query_vectors, background if use_background else None)
    decisions = []
    for item_id, rows in by_item.items():
        rows.sort(key=lambda n: resolved[hit_ids[n]][1].position)
        bank = [resolved[hit_ids[n]][1] for n in rows]
        cos = query_vectors @ vectors[rows].T
        margin = cos / neighbourhoods.excluding(item_id, bank[0].lang)[:, None]
        decision = decide_item(item_id, query, bank, [hit_ids[n] for n in rows], cos, margin, config)
        if decision.score > 0:
            decisions.append(decision)
    decisions.sort(key=lambda d: -d.score)
    return decisions


def top_cosines(query_vectors: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Per query chunk, its ``k`` highest cosines with ``rows`` (descending)."""
    sims = query_vectors @ rows.T
    k = min(k, sims.shape[1])
    return -np.sort(-np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:], axis=1)


class Neighbourhoods:
    """Per query chunk: mean cosine of its ``k`` nearest chunks outside a given bank item.

    The ratio margin's denominator.  LASER also divides by the bank chunk's
    own neighbourhood, but in a one-language bank that measures how alike
    the bank's own sentences are, not how generic the candidate is; on the
    tuning split it lowered recall at a fixed false-match rate.  The
    background corpus's nearest cosines *in the bank item's language* compete
    for the ``k`` slots (a query compared with Arabic bank text is measured
    against Arabic news, not against news in its own language, which would be
    closer for every query alike).  Slots still empty (a small bank and no
    background for the model) are filled with ``config.background_cos``, the
    typical cosine between unrelated texts, so small banks are not
    over-confident.

    Built once per query document: the neighbour lists are sorted once, the
    background searched once per language, and each candidate item only
    masks its own chunks out.
    """

    def __init__(self, scores: np.ndarray, ids: np.ndarray, item_of: dict[int, int], config: DecisionConfig,
                 query_vectors: np.ndarray | None = None, background: Background | None = None) -> None:
        self.k = config.k
        owner = np.vectorize(lambda i: item_of.get(int(i), -1), otypes=[np.int64])(ids) if ids.size else ids
        values = np.where(ids >= 0, scores, -np.inf).astype(np.float64)
        self.padding = config.background_cos
        # Empty slots: a search that returned fewer than k hits still fills k columns.
        short = max(0, self.k - values.shape[1])
        self.values = np.hstack([values, np.full((len(values), short), -np.inf)])
        self.owner = np.hstack([owner, np.full((len(values), short), -3, dtype=np.int64)])
        self._query, self._background = query_vectors, background
        self._by_lang: dict[str | None, np.ndarray] = {}

    def _background_top(self, lang: str | None) -> np.ndarray | None:
        if self._background is None or self._query is None:
            return None
        if lang not in self._by_lang:
            self._by_lang[lang] = top_cosines(self._query, self._background.for_lang(lang), self.k).astype(np.float64)
        return self._by_lang[lang]

    def excluding(self, item_id: int, lang: str | None = None) -> np.ndarray:
        masked = np.where(self.owner == item_id, -np.inf, self.values)
        extra = self._background_top(lang)
        if extra is not None:  # background rows belong to no bank item
            masked = np.hstack([masked, extra])
        top = -np.sort(-masked, axis=1)[:, : self.k]
        top = np.where(np.isfinite(top), top, self.padding)
        return np.maximum(top.mean(axis=1), 1e-6)
