"""Throughput and lookup latency of the whole text_xling path, against raw embedding.

    .venv/bin/python bench/text_match.py                 # the full run: 10k / 100k / 1M bank chunks, 30 posts
    .venv/bin/python bench/text_match.py --sizes 10000 --posts 12   # a quick run while iterating
    .venv/bin/python bench/text_match.py --smoke         # a seconds-long check that it runs

Posts are NTREX-128 news leads (6 sentences) in Russian, Kazakh and Uzbek.

Throughput.  Whole path = TextXlingType.hash (normalise, language id,
sentences, embed, build signals) + match (search + decision).  Baseline =
``backend.embed`` of exactly the chunk texts the path embeds, one call per post
(the path's own batching).  The two are interleaved post by post (alternating
which goes first) so both see the same machine load, and both wall-clock and
process CPU time are reported: on a shared machine the CPU ratio is the
trustworthy one.  "non-embedding CPU ms/post" = whole-path CPU minus the CPU
of the path's own embed calls, per post, and "path's own embed CPU / path
CPU" the same as a ratio (measured directly, so run-to-run embedding noise
does not enter them; the goal is >= 0.87).

Bank.  40 real Arabic FLORES documents plus padding up to the bank size.
Padding vectors are drawn from a Gaussian with the mean and covariance of
real e5 sentence vectors (FLORES sentences in several languages embedded in
this run), then unit-normalised: they sit where real sentences sit (mean
cosine ~0.78 to each other, like real e5 vectors), so the ANN index is
tested on a realistic, unclustered and therefore hard distribution.

Lookup = match() for one post (search + alignment + decision), wall ms, each
post's queries looked up 3 times.  recall@16 = share of the exact top-16
(numpy over the same vectors) that the index returns, for real query
sentences (the posts' sentences and FLORES Russian/Uzbek/English
translations of the bank documents); 1 for the exact index by construction.
"decisions as exact" = FLORES translations of the bank documents (Russian,
Uzbek, English) whose matched bank items are the same with the ANN index as
with an exact index of the same vectors; "translations found" = those that
matched their own bank document, with the index and with exact search.
Index MB = the vector index's own arrays (VectorIndex.memory_bytes).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content, Signal  # noqa: E402
from crossmatch.signals.text_xling import NAME, TextVectorIndex, create  # noqa: E402

K = 16
HEADER = ("| bank chunks | index | whole path posts/s | raw embedding posts/s | whole/raw wall | whole/raw CPU "
          "| path's own embed CPU / path CPU | non-embedding CPU ms/post | lookup p50 / p95 ms | recall@16 vs exact | decisions as exact "
          "| translations found: index / exact | index MB | max RSS MB |")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_posts(data: Path, n: int) -> list[str]:
    ids = (data / "ntrex128" / "DOCUMENT_IDS.tsv").read_text().splitlines()
    posts = []
    for lang in ("rus", "kaz", "uzb"):
        lines = (data / "ntrex128" / f"newstest2019-ref.{lang}.txt").read_text(encoding="utf-8").splitlines()
        docs: dict[str, list[str]] = {}
        for doc, line in zip(ids, lines):
            docs.setdefault(doc, []).append(line)
        posts += [" ".join(d[:6]) for d in docs.values()]
    step = max(1, len(posts) // n)
    return posts[::step][:n]


def flores_docs(data: Path, lang: str, n_docs: int) -> list[str]:
    lines = (data / "flores200-devtest" / f"{lang}.devtest").read_text(encoding="utf-8").splitlines()
    urls = [r.split("\t")[0] for r in (data / "flores200-devtest" / "metadata_devtest.tsv").read_text().splitlines()[1:]]
    docs: dict[str, list[str]] = {}
    for url, line in zip(urls, lines):
        docs.setdefault(url, []).append(line)
    return [" ".join(d) for d in list(docs.values())[:n_docs]]


def real_bank(xling, data: Path, n_docs: int) -> list[tuple[int, int, Signal]]:
    out = []
    for item, doc in enumerate(flores_docs(data, "arb_Arab", n_docs)):
        for s in xling.hash(Content(f"bank-{item}", "text", text=doc)):
            out.append((10**9 + 100 * item + s.meta["chunk"], item, s))
    return out


def vectors_of(signals) -> np.ndarray:
    from crossmatch.signals.text_xling import decode_signal

    return np.vstack([decode_signal(s) for s in signals]).astype(np.float32)


class Padding:
    """Unit vectors from a Gaussian fitted to real sentence vectors (mean + covariance)."""

    def __init__(self, real: np.ndarray, seed: int = 0) -> None:
        self.mean = real.mean(axis=0)
        cov = np.cov(real.T)
        # Fewer real vectors than dimensions leave a rank-deficient covariance: shrink towards its mean variance.
        cov = 0.9 * cov + 0.1 * np.eye(len(cov)) * np.trace(cov) / len(cov)
        self.root = np.linalg.cholesky(cov).astype(np.float32)
        self.rng = np.random.default_rng(seed)

    def take(self, n: int) -> np.ndarray:
        v = self.rng.standard_normal((n, len(self.mean)), dtype=np.float32) @ self.root.T + self.mean
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build_index(xling, size: int, real: list[tuple[int, int, Signal]], padding: Padding) -> tuple[TextVectorIndex, np.ndarray]:
    """The index under test and the padding matrix (kept for the exact reference)."""
    index = xling.fast_index()
    n_pad = max(0, size - len(real))
    pad = np.zeros((n_pad, index.dim), dtype=np.float32)
    for start in range(0, n_pad, 100_000):  # added in batches, as the index manager does
        n = min(100_000, n_pad - start)
        pad[start : start + n] = padding.take(n)
        index.add_vectors(range(start, start + n), pad[start : start + n])
    index.add((sid, s) for sid, _, s in real)
    return index, pad


def exact_top(queries: np.ndarray, pad: np.ndarray, real_ids: np.ndarray, real_vecs: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids over padding (ids 0..n-1) and the real bank vectors."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    blocks = [(np.arange(s, min(s + 200_000, len(pad))), pad[s : s + 200_000]) for s in range(0, len(pad), 200_000)]
    for ids, mat in blocks + [(real_ids, real_vecs)]:
        sims = queries @ mat.T
        take = min(k, sims.shape[1])
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        best_s = np.hstack([best_s, np.take_along_axis(sims, top, axis=1)])
        best_i = np.hstack([best_i, ids[top]])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, axis=1), np.take_along_axis(best_i, keep, axis=1)
    return best_i


def lookup_for(real: list[tuple[int, int, Signal]], model: str):
    known = {sid: (item, s) for sid, item, s in real}

    def lookup(ids):
        # Padding chunks: 8 per fake bank item, no text features.
        return {i: known.get(i) or (10**6 + i // 8, Signal(NAME, "", meta={"chunk": i % 8, "chunks": 8, "model": model}))
                for i in ids}

    return lookup


def cpu() -> float:
    return time.process_time()  # all threads of this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CROSSMATCH_EVALDATA", ROOT.parent / "shared" / "evaldata")))
    parser.add_argument("--sizes", default="10000,100000,1000000", help="bank sizes in chunks (comma-separated)")
    parser.add_argument("--posts", type=int, default=30, help="NTREX posts (~5 sentences each)")
    parser.add_argument("--bank-docs", type=int, default=40, help="real Arabic FLORES documents in the bank")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the script runs")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"evaluation data folder {args.data} does not exist")
    sizes = [2000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    n_posts = 3 if args.smoke else args.posts
    n_docs = 4 if args.smoke else args.bank_docs
    xling = create(Settings.load(home="/tmp/crossmatch-bench", workers=2))
    model = xling.backend.model_id
    posts = read_posts(args.data, n_posts)
    real = real_bank(xling, args.data, n_docs)
    lookup = lookup_for(real, model)
    real_ids = np.array([sid for sid, _, _ in real], dtype=np.int64)
    real_vecs = vectors_of([s for _, _, s in real])

    # Real queries: the posts, and FLORES translations of the bank documents (document n translates bank item n).
    post_texts = [xling.embedded_texts(Content(f"p{n}", "text", text=p)) for n, p in enumerate(posts)]
    translations = [(item, xling.hash(Content(f"{lang}-{item}", "text", text=doc)))
                    for lang in ("rus_Cyrl", "uzn_Latn", "eng_Latn") for item, doc in enumerate(flores_docs(args.data, lang, n_docs))]
    post_vecs = xling.backend.embed([t for ts in post_texts for t in ts], kind="query")
    query_vecs = np.vstack([post_vecs, vectors_of([s for _, sigs in translations for s in sigs])])
    padding = Padding(np.vstack([real_vecs, query_vecs]))

    # The path's own embed calls are timed too, so its non-embedding CPU is measured directly
    # (whole-path CPU minus the CPU of the embed calls inside it), free of run-to-run embedding noise.
    backend, inner = xling.backend, {"cpu": 0.0}
    plain_embed = backend.embed

    def timed_embed(texts, kind="query"):
        c0 = cpu()
        try:
            return plain_embed(texts, kind=kind)
        finally:
            inner["cpu"] += cpu() - c0

    n_sent = sum(len(t) for t in post_texts)
    load = os.getloadavg()
    print(f"{len(posts)} posts, {n_sent} sentences embedded per pass, {len(query_vecs)} recall queries, "
          f"{len(translations)} translated documents, backend {model}; load average at the start "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    for size in sizes:
        index, pad = build_index(xling, size, real, padding)
        wall = {"raw": 0.0, "whole": 0.0}
        proc = {"raw": 0.0, "whole": 0.0}
        inner["cpu"] = 0.0
        lookups = []
        for n, (post, texts) in enumerate(zip(posts, post_texts)):
            for which in (("raw", "whole") if n % 2 == 0 else ("whole", "raw")):
                w0, c0 = time.perf_counter(), cpu()
                if which == "raw":
                    plain_embed(texts, kind="query")
                else:
                    backend.embed = timed_embed
                    queries = xling.hash(Content(f"post-{n}", "text", text=post))
                    backend.embed = plain_embed
                    xling.match(queries, index, xling.default_threshold, lookup)
                wall[which] += time.perf_counter() - w0
                proc[which] += cpu() - c0
            for _ in range(3):
                t0 = time.perf_counter()
                xling.match(queries, index, xling.default_threshold, lookup)
                lookups.append(1000 * (time.perf_counter() - t0))
        found = [{c.evidence["bank_item_id"] for c in xling.match(sigs, index, xling.default_threshold, lookup)}
                 for _, sigs in translations]
        own = sum(item in f for (item, _), f in zip(translations, found))
        if index.is_approximate:
            _, got = index.search(query_vecs, K)
            truth = exact_top(query_vecs, pad, real_ids, real_vecs, K)
            recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(got.tolist(), truth.tolist())]))
            kind = index.describe()
            exact = xling.fast_index()
            exact.ann_min_size = 10**12
            exact.add_vectors(np.arange(len(pad)), pad)
            exact.add((sid, sig) for sid, _, sig in real)
            exact_found = [{c.evidence["bank_item_id"] for c in xling.match(sigs, exact, xling.default_threshold, lookup)}
                           for _, sigs in translations]
            same = sum(a == b for a, b in zip(found, exact_found))
            exact_own = sum(item in f for (item, _), f in zip(translations, exact_found))
            del exact
        else:
            recall, kind, same, exact_own = 1.0, "exact numpy", len(translations), own
        p50, p95 = statistics.median(lookups), float(np.percentile(lookups, 95))
        print(
            f"| {size:,} | {kind} | {len(posts) / wall['whole']:.2f} | {len(posts) / wall['raw']:.2f} "
            f"| {wall['raw'] / wall['whole']:.2f} | {proc['raw'] / proc['whole']:.2f} | {inner['cpu'] / proc['whole']:.3f} "
            f"| {1000 * (proc['whole'] - inner['cpu']) / len(posts):.1f} | {p50:.1f} / {p95:.1f} | {recall:.3f} "
            f"| {same}/{len(translations)} | {own} / {exact_own} of {len(translations)} "
            f"| {index.memory_bytes() / 2**20:.0f} | {rss_mb():.0f} |", flush=True
        )
        del index, pad
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores "
          "(above the core count the machine was shared with other jobs: trust the CPU columns, not wall clock)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
