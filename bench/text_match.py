"""Throughput and lookup latency of the whole text_xling path.

    .venv/bin/python bench/text_match.py            # 10k / 100k / 1M bank chunks
    .venv/bin/python bench/text_match.py --smoke    # a seconds-long check that it runs

Posts are NTREX-128 news leads (6 sentences) in Russian, Kazakh and Uzbek.
Whole path = normalise, detect language, split into sentences, embed, search,
decide (TextXlingType.hash + match).  Baseline measured in the same run: the
backend embedding the same sentences directly.  The bank is 40 real Arabic
FLORES documents plus synthetic random unit vectors up to the bank size (the
search cost depends on size, not content); lookup = search + decision for one
post, beside an exact numpy scan of the same bank.
"""

from __future__ import annotations

import argparse
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


def real_bank(xling, data: Path, n_docs: int) -> tuple[list[tuple[int, int, Signal]], int]:
    lines = (data / "flores200-devtest" / "arb_Arab.devtest").read_text(encoding="utf-8").splitlines()
    urls = [r.split("\t")[0] for r in (data / "flores200-devtest" / "metadata_devtest.tsv").read_text().splitlines()[1:]]
    docs: dict[str, list[str]] = {}
    for url, line in zip(urls, lines):
        docs.setdefault(url, []).append(line)
    out = []
    for item, doc in enumerate(list(docs.values())[:n_docs]):
        for s in xling.hash(Content(f"bank-{item}", "text", text=" ".join(doc))):
            out.append((10**9 + 100 * item + s.meta["chunk"], item, s))
    return out, len(docs)


def build_index(dim: int, size: int, real: list[tuple[int, int, Signal]], seed: int = 0) -> TextVectorIndex:
    index = TextVectorIndex(dim)
    rng = np.random.default_rng(seed)
    for start in range(0, size - len(real), 100_000):
        n = min(100_000, size - len(real) - start)
        v = rng.standard_normal((n, dim), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        index.add_vectors(range(start, start + n), v)
    index.add((sid, s) for sid, _, s in real)
    return index


def lookup_for(real: list[tuple[int, int, Signal]]):
    known = {sid: (item, s) for sid, item, s in real}

    def lookup(ids):
        # Synthetic chunks: 8 per fake bank item, no text features.
        return {i: known.get(i) or (10**6 + i // 8, Signal(NAME, "", meta={"chunk": i % 8, "chunks": 8})) for i in ids}

    return lookup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"evaluation data folder {args.data} does not exist")
    sizes = [2000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    n_posts = 3 if args.smoke else args.posts
    xling = create(Settings.load(home="/tmp/crossmatch-bench", workers=2))
    posts = read_posts(args.data, n_posts)
    real, _ = real_bank(xling, args.data, 4 if args.smoke else 40)
    lookup = lookup_for(real)

    # Baseline: the backend alone on the very sentences the pipeline will embed.
    xling.hash(Content("warm-up", "text", text=posts[0]))
    sentences = [s.meta["text"] for p in posts for s in xling.hash(Content("p", "text", text=p))]
    t = time.perf_counter()
    xling.backend.embed(sentences, kind="query")
    raw = time.perf_counter() - t
    out = ["| bank chunks | index | posts/s whole path | raw embedding posts/s | whole/raw | lookup p50 / p95 ms | exact-scan p50 ms | max RSS MB |",
           "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        index = build_index(xling.backend.dim, size, real)
        timings, total = [], 0.0
        for n, post in enumerate(posts):
            t0 = time.perf_counter()
            queries = xling.hash(Content(f"post-{n}", "text", text=post))
            t1 = time.perf_counter()
            xling.match(queries, index, xling.default_threshold, lookup)
            t2 = time.perf_counter()
            timings.append(1000 * (t2 - t1))
            total += t2 - t0
        exact = []
        matrix = index.vectors(list(range(min(size - len(real), 200_000))))  # an exact scan of the same size
        for post in posts[:10]:
            q = np.vstack([np.frombuffer(__import__("base64").b64decode(s.value), dtype="<f2").astype(np.float32)
                           for s in xling.hash(Content("x", "text", text=post))])
            t0 = time.perf_counter()
            for start in range(0, size, len(matrix)):
                np.argpartition(-(q @ matrix.T), 16, axis=1)
            exact.append(1000 * (time.perf_counter() - t0))
        kind = "FAISS IVF" if index.is_approximate else "exact numpy"
        p50, p95 = statistics.median(timings), float(np.percentile(timings, 95))
        out.append(f"| {size:,} | {kind} | {len(posts) / total:.2f} | {len(posts) / raw:.2f} | {raw / total:.2f} "
                   f"| {p50:.1f} / {p95:.1f} | {statistics.median(exact):.1f} | {rss_mb():.0f} |")
        del index, matrix
    print(f"{len(posts)} posts, {len(sentences)} sentences, backend {xling.backend.model_id}; 2 cores shared with other jobs")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
