"""IVF-PQ recall benchmark for text_xling-sized vectors (384-d), and sharding with fan-out and merge.

Synthetic unit vectors in clusters (a mixture of Gaussians, like sentence
embeddings of many topics); queries are noisy copies of stored vectors.
Exact inner-product search (numpy, blocked) is the baseline in the same run.
Reports recall@k of crossmatch's VectorIndex with codec "pq" (IVF-PQ) and with
the default "fp16", bytes per vector, and the same over ``--shards`` shards
searched one after another and merged (what a matcher fanning out to shard
processes gets back), for sizes too big for one box.

    python bench/ivfpq.py --size 1000000 --queries 500
    python bench/ivfpq.py --smoke
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

DIM = 384


def data(n: int, rng: np.random.Generator, topics: int = 2000) -> np.ndarray:
    centres = rng.standard_normal((topics, DIM)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, topics, m)] + 0.6 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(db: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for start in range(0, len(db), 200_000):
        scores = queries @ db[start:start + 200_000].T
        idx = np.argpartition(-scores, k, axis=1)[:, :k]
        s = np.take_along_axis(scores, idx, axis=1)
        all_s, all_i = np.hstack([best_s, s]), np.hstack([best_i, idx + start])
        order = np.argsort(-all_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(all_s, order, axis=1), np.take_along_axis(all_i, order, axis=1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.size, args.queries, args.shards = 30_000, 50, 2
    from crossmatch.index.vectors import VectorIndex

    rng = np.random.default_rng(11)
    db = data(args.size, rng)
    picks = rng.choice(args.size, args.queries, replace=False)
    queries = db[picks] + 0.05 * rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    started = time.perf_counter()
    truth = exact_top(db, queries, args.k)
    exact_s = time.perf_counter() - started
    rows = [{"index": "exact (numpy)", "recall_at_k": 1.0, "query_ms": round(1000 * exact_s / args.queries, 2)}]
    for codec in ("fp16", "pq"):
        index = VectorIndex(DIM, ann_min_size=min(50_000, args.size), codec=codec)
        started = time.perf_counter()
        index.add_vectors(np.arange(args.size), db)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        _, found = index.search(queries, args.k)
        query_s = time.perf_counter() - started
        rows.append({"index": index.describe(), "recall_at_k": round(recall(found, truth), 3), "build_s": round(build_s, 1),
                     "query_ms": round(1000 * query_s / args.queries, 2), "bytes_per_vector": round(index.memory_bytes() / args.size)})
        del index
    # Sharding by hash of the id: each shard its own IVF-PQ; a matcher fans the query out and merges the top k.
    shard_of = np.arange(args.size) % args.shards
    scores, ids = [], []
    started = time.perf_counter()
    for shard in range(args.shards):
        members = np.flatnonzero(shard_of == shard)
        index = VectorIndex(DIM, ann_min_size=min(50_000, len(members)), codec="pq")
        index.add_vectors(members, db[members])
        s, i = index.search(queries, args.k)
        scores.append(s)
        ids.append(i)
        del index
    merged_s, merged_i = np.hstack(scores), np.hstack(ids)
    order = np.argsort(-merged_s, axis=1)[:, :args.k]
    rows.append({"index": f"IVF-PQ, {args.shards} shards, fan-out + merge", "recall_at_k": round(recall(np.take_along_axis(merged_i, order, axis=1), truth), 3),
                 "build_and_query_s": round(time.perf_counter() - started, 1)})
    for row in rows:
        print(json.dumps({"size": args.size, "k": args.k, "queries": args.queries, **row}))


if __name__ == "__main__":
    main()
