"""PDQ lookup benchmark: crossmatch's PdqIndex against python-threatexchange's PDQIndex.

Both indices get the same hashes (uniformly random, plus planted near-duplicate
clusters) and the same queries (bank hashes with 0-80 bits flipped, plus
random ones).  Each index runs in its own process so peak RSS is its own.
For every threshold the result sets of both must be identical, and equal to
an exhaustive numpy popcount over a sample of queries.

    python bench/pdq_lookup.py --sizes 1000000,10000000 --queries 2000
    python bench/pdq_lookup.py --smoke          # tiny, used by tests
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = ("crossmatch", "threatexchange", "threatexchange_flat")
PLANTED_DISTANCES = [0, 1, 4, 8, 16, 24, 30, 31, 32, 40, 48, 52, 53, 64, 80]


def flip_bits(rng: np.random.Generator, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Flip counts[i] distinct random bits of rows[i]."""
    out = np.unpackbits(rows, axis=1)
    for i, k in enumerate(counts):
        cols = rng.choice(256, size=int(k), replace=False)
        out[i, cols] ^= 1
    return np.packbits(out, axis=1)


def make_data(size: int, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(size, 32) bank hashes and (n_queries, 32) distinct queries, deterministic in seed."""
    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    # Near-duplicate clusters inside the bank (re-encodes of one image).
    n_clusters = max(1, size // 1000)
    centres = rng.integers(0, size, n_clusters)
    members = rng.integers(0, size, (n_clusters, 4))
    for c, ms in zip(centres, members):
        bank[ms] = flip_bits(rng, np.repeat(bank[c : c + 1], len(ms), axis=0), rng.integers(0, 40, len(ms)))
    n_random = n_queries // 10
    picks = rng.integers(0, size, n_queries - n_random)
    planted = flip_bits(rng, bank[picks], np.resize(PLANTED_DISTANCES, len(picks)))
    queries = np.concatenate([planted, rng.integers(0, 256, size=(n_random, 32), dtype=np.uint8)])
    _, first = np.unique(queries, axis=0, return_index=True)  # the baseline keys results by hash string
    return bank, queries[np.sort(first)]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Crossmatch:
    def __init__(self, bank: np.ndarray) -> None:
        from crossmatch.index.pdq_fast import PdqIndex

        self.index = PdqIndex()
        self.index.add_hashes(np.arange(len(bank)), bank)
        self.index.compact()  # build the tables now rather than on the first lookup

    def query_one(self, hex_hash: str, threshold: int) -> list[tuple[int, int]]:
        from crossmatch.signals.base import Signal

        return [(h.signal_id, int(h.distance)) for h in self.index.query(Signal("pdq", hex_hash), threshold)]

    def query_batch(self, queries: np.ndarray, hexes: list[str], threshold: int) -> list[list[tuple[int, int]]]:
        return self.index.query_many(queries, threshold)


class ThreatExchange:
    """pytx's PDQIndex (faiss IndexBinaryMultiHash, 16 substrings, nflip = t // 16: exact)."""

    def __init__(self, bank: np.ndarray) -> None:
        from threatexchange.signal_type.pdq import pdq_index

        hexes = [row.tobytes().hex() for row in bank]
        self._cls = getattr(pdq_index, self.class_name)
        self.index = self._cls(zip(hexes, range(len(bank))))

    class_name = "PDQIndex"

    def query_one(self, hex_hash: str, threshold: int) -> list[tuple[int, int]]:
        # PDQIndex.query has its threshold fixed at 31; its inner index takes any.
        if threshold == self._cls.get_match_threshold():
            return [(m.metadata, m.similarity_info.distance) for m in self.index.query(hex_hash)]
        found = self.index.index.search_with_distance_in_result([hex_hash], threshold)[hex_hash]
        return [(int(i), int(d)) for i, _, d in found]

    def query_batch(self, queries: np.ndarray, hexes: list[str], threshold: int) -> list[list[tuple[int, int]]]:
        found = self.index.index.search_with_distance_in_result(hexes, threshold)
        return [[(int(i), int(d)) for i, _, d in found[h]] for h in hexes]


class ThreatExchangeFlat(ThreatExchange):
    """pytx's PDQFlatIndex (faiss IndexBinaryFlat, exhaustive), which pytx uses at threshold 52."""

    class_name = "PDQFlatIndex"


WORKERS = {"crossmatch": Crossmatch, "threatexchange": ThreatExchange, "threatexchange_flat": ThreatExchangeFlat}


def run_worker(args: argparse.Namespace) -> None:
    """Build one implementation, time it, save its result sets, print one JSON line."""
    bank, queries = make_data(args.size, args.queries, args.seed)
    if args.worker != "crossmatch":
        queries = queries[: args.baseline_queries]  # the baselines can be very slow at large thresholds
    hexes = [row.tobytes().hex() for row in queries]
    factory = WORKERS[args.worker]
    # Warm-up on a small bank: imports, and numba loading its compiled kernels.
    factory(bank[:50_000]).query_batch(queries[:2], hexes[:2], 31)
    before = rss_mb()
    start = time.perf_counter()
    impl = factory(bank)
    report: dict = {"impl": args.worker, "build_s": time.perf_counter() - start}
    results = {}
    for threshold in args.thresholds:
        # Wall-clock q/s, and q per CPU-second of this process (all its threads): the
        # latter says more when other jobs share the 2 cores.
        start, cpu = time.perf_counter(), time.process_time()
        batched = impl.query_batch(queries, hexes, threshold)
        report[f"batch_qps_{threshold}"] = len(queries) / (time.perf_counter() - start)
        report[f"batch_cpu_qps_{threshold}"] = len(queries) / (time.process_time() - cpu)
        done, start, cpu = 0, time.perf_counter(), time.process_time()
        for h in hexes[: args.single]:
            impl.query_one(h, threshold)
            done += 1
            if time.perf_counter() - start > args.single_budget:
                break
        report[f"single_qps_{threshold}"] = done / (time.perf_counter() - start)
        report[f"single_cpu_qps_{threshold}"] = done / (time.process_time() - cpu)
        triples = [(q, i, d) for q, hits in enumerate(batched) for i, d in hits]
        # Single queries must agree with the batch on the queries they covered.
        for q, h in enumerate(hexes[: min(done, 20)]):
            assert sorted(impl.query_one(h, threshold)) == sorted(batched[q]), (args.worker, threshold, q)
        results[f"t{threshold}"] = np.array(sorted(triples), dtype=np.int64).reshape(-1, 3)
    report["peak_rss_mb"] = peak_rss_mb()
    report["build_rss_mb"] = report["peak_rss_mb"] - before
    if args.worker == "crossmatch":
        report.update(changes_and_persistence(impl.index, bank, args.out.parent))
    np.savez(args.out, **results)
    print(json.dumps(report))


def changes_and_persistence(index, bank: np.ndarray, tmp: Path, n: int = 500) -> dict:
    """Latency of single adds and removes (each visible at once), a tail merge, save and load."""
    rng = np.random.default_rng(7)
    new = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    new_ids = np.arange(len(bank), len(bank) + n)
    start = time.perf_counter()
    for i in range(n):
        index.add_hashes(new_ids[i : i + 1], new[i : i + 1])
    add_ms = (time.perf_counter() - start) / n * 1000
    assert all(new_ids[q] in {i for i, _ in hits} for q, hits in enumerate(index.query_many(new, 0)))
    start = time.perf_counter()
    for i in range(n):
        index.remove([int(new_ids[i])])
    remove_ms = (time.perf_counter() - start) / n * 1000
    assert not any(hits for hits in index.query_many(new, 0))
    index.add_hashes(new_ids, new)
    start = time.perf_counter()
    index.compact()
    compact_s = time.perf_counter() - start
    path = tmp / "pdq.index"
    start = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    loaded = type(index).load(path)
    load_s = time.perf_counter() - start
    assert len(loaded) == len(index)
    return {"add_ms": add_ms, "remove_ms": remove_ms, "merge_s": compact_s, "save_s": save_s, "load_s": load_s,
            "file_mb": path.stat().st_size / 2**20, "peak_rss_after_changes_mb": peak_rss_mb()}


def brute_force(bank: np.ndarray, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    words = bank.view(np.uint64)
    out = set()
    for q, row in enumerate(queries):
        dist = np.bitwise_count(words ^ row.view(np.uint64)).sum(axis=1)
        out |= {(q, int(i), int(dist[i])) for i in np.flatnonzero(dist <= threshold)}
    return out


def run_size(args: argparse.Namespace, size: int, tmp: Path) -> list[str]:
    rows, reports, results = [], {}, {}
    for impl in args.impls:
        out = tmp / f"{impl}-{size}.npz"
        cmd = [sys.executable, __file__, "--worker", impl, "--size", str(size), "--queries", str(args.queries),
               "--thresholds", ",".join(map(str, args.thresholds)), "--single", str(args.single),
               "--single-budget", str(args.single_budget), "--seed", str(args.seed), "--out", str(out),
               "--baseline-queries", str(args.baseline_queries)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            sys.exit(f"{impl} worker failed at size {size}:\n{proc.stderr}")
        reports[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
        with np.load(out) as data:
            results[impl] = {k: data[k] for k in data.files}
    bank, queries = make_data(size, args.queries, args.seed)
    sample = np.random.default_rng(args.seed + 1).choice(len(queries), min(args.brute_sample, len(queries)), replace=False)
    for threshold in args.thresholds:
        key = f"t{threshold}"
        sets = {impl: set(map(tuple, results[impl][key].tolist())) for impl in args.impls}
        # Baselines answered only the first --baseline-queries queries: compare those.
        same = all(s == {p for p in sets["crossmatch"] if p[0] < args.baseline_queries} for s in
                   (sets[impl] for impl in args.impls if impl != "crossmatch"))
        expected = brute_force(bank, queries[sample], threshold)
        mine = {(int(np.flatnonzero(sample == q)[0]), i, d) for q, i, d in sets["crossmatch"] if q in set(sample.tolist())}
        brute_ok = mine == expected
        verdict = "identical" if same and brute_ok else "DIFFERENT"
        compared = min(args.baseline_queries, len(queries))
        rows.append(f"CHECK size={size} t={threshold} pairs={len(sets['crossmatch'])} ({' vs '.join(args.impls)} "
                    f"on {compared} queries, brute force on {len(sample)}): {verdict}")
    for impl in args.impls:
        r = reports[impl]
        rows.append(f"REPORT {json.dumps({'size': size, **r})}")
    return rows


def markdown(size_reports: list[dict], thresholds: list[int], impls: list[str]) -> str:
    kinds = {"single": "single q/s", "single_cpu": "single q/CPU-s", "batch": "batch q/s", "batch_cpu": "batch q/CPU-s"}
    head = "| hashes | index | build s | peak RSS MB (build +MB) |" + "".join(
        f" t={t} {label} |" for t in thresholds for label in kinds.values())
    lines = [head, "|" + "---|" * (4 + len(kinds) * len(thresholds))]
    for size in sorted({r["size"] for r in size_reports}):
        by_impl = {r["impl"]: r for r in size_reports if r["size"] == size}
        base = by_impl.get("threatexchange")
        for impl in impls:
            r = by_impl[impl]
            cells = [f"{size:,}", impl, f"{r['build_s']:.1f}", f"{r['peak_rss_mb']:.0f} (+{r['build_rss_mb']:.0f})"]
            for t in thresholds:
                for kind in kinds:
                    v = r[f"{kind}_qps_{t}"]
                    ratio = f" ({v / base[f'{kind}_qps_{t}']:.1f}x)" if base and impl == "crossmatch" else ""
                    cells.append(f"{v:,.0f}{ratio}" if v >= 10 else f"{v:.2g}{ratio}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def changes_table(reports: list[dict]) -> str:
    lines = ["| hashes | single add ms | single remove ms | merge tail into base s | save s | load s | file MB "
             "| peak RSS after changes MB |", "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        if r["impl"] == "crossmatch":
            lines.append(f"| {r['size']:,} | {r['add_ms']:.2f} | {r['remove_ms']:.2f} | {r['merge_s']:.1f} | "
                         f"{r['save_s']:.1f} | {r['load_s']:.1f} | {r['file_mb']:.0f} | {r['peak_rss_after_changes_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=2000, help="queries per batched run (and result check)")
    parser.add_argument("--single", type=int, default=1000, help="single queries timed, at most")
    parser.add_argument("--single-budget", type=float, default=30.0, help="seconds, at most, of single queries")
    parser.add_argument("--thresholds", default="31,52")
    parser.add_argument("--impls", default="crossmatch,threatexchange", help=f"any of {','.join(IMPLEMENTATIONS)}")
    parser.add_argument("--baseline-queries", type=int, default=10**9,
                        help="the baselines answer only the first N queries (they are slow at t=52)")
    parser.add_argument("--brute-sample", type=int, default=30, help="queries checked by exhaustive popcount")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks results, not speed")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.thresholds = [int(t) for t in str(args.thresholds).split(",")]
    if args.worker:
        run_worker(args)
        return
    if args.smoke:
        args.sizes, args.queries, args.single, args.brute_sample = "20000", 150, 50, 40
    args.impls = args.impls.split(",")
    if "crossmatch" not in args.impls:
        sys.exit("--impls must include crossmatch")
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            for line in run_size(args, size, Path(tmp)):
                print(line, flush=True)
                if line.startswith("REPORT "):
                    reports.append(json.loads(line[len("REPORT "):]))
    table = markdown(reports, args.thresholds, args.impls) + "\n\n" + changes_table(reports)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
