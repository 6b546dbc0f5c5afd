"""The fast PDQ index must return exactly the brute-force result set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crossmatch.index import mih
from crossmatch.index.brute import BruteForceIndex
from crossmatch.index.hamming import to_words
from crossmatch.index.pdq_fast import PdqIndex
from crossmatch.signals.base import IndexHit, InvalidSignal, Signal

THRESHOLDS = [0, 1, 16, 31, 52, 64]
REPO = Path(__file__).resolve().parents[1]


def hamming(a: Signal, b: Signal) -> float:
    return float((int(a.value, 16) ^ int(b.value, 16)).bit_count())


def to_signal(row: np.ndarray) -> Signal:
    return Signal("pdq", row.tobytes().hex())


def flip(rng: np.random.Generator, row: np.ndarray, bits: int) -> np.ndarray:
    out = row.copy()
    for b in rng.choice(256, size=bits, replace=False):
        out[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def planted_data(seed: int, n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Random hashes with clusters of near-duplicates, and queries planted at many distances."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    # Near-duplicate clusters in the bank: one query can match many rows through many substrings.
    for centre in rng.choice(n, size=max(1, n // 50), replace=False):
        for j in rng.choice(n, size=5, replace=False):
            hashes[j] = flip(rng, hashes[centre], int(rng.integers(0, 40)))
    distances = [0, 1, 2, 8, 15, 16, 17, 30, 31, 32, 40, 51, 52, 53, 63, 64, 65, 80]
    queries = [flip(rng, hashes[rng.integers(n)], distances[i % len(distances)]) for i in range(n_queries - 2)]
    queries += [rng.integers(0, 256, size=32, dtype=np.uint8), hashes[0]]
    return hashes, np.array(queries)


def brute_hits(brute: BruteForceIndex, query: Signal, threshold: int) -> set[tuple[int, float]]:
    return {(h.signal_id, h.distance) for h in brute.query(query, threshold)}


@pytest.fixture(params=["mih", "scan"])
def search_path(request, monkeypatch) -> str:
    """Run a test once with MIH tables forced on every segment and once with scans only."""
    monkeypatch.setattr(mih, "SCAN_COST", 1e9 if request.param == "mih" else 0.0)
    return request.param


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equals_brute_force_at_every_threshold(seed: int, search_path: str) -> None:
    hashes, queries = planted_data(seed, n=3000, n_queries=24)
    ids = np.arange(100, 100 + len(hashes)) * 7
    index = PdqIndex()
    index.add_hashes(ids, hashes)
    index.compact()
    assert (index._base.tables is not None) == (search_path == "mih")
    brute = BruteForceIndex(hamming, "distance")
    brute.add((int(i), to_signal(h)) for i, h in zip(ids, hashes))
    for threshold in THRESHOLDS:
        batched = index.query_many(queries, threshold)
        for q, row in enumerate(queries):
            expected = brute_hits(brute, to_signal(row), threshold)
            single = index.query(to_signal(row), threshold)
            assert {(h.signal_id, h.distance) for h in single} == expected, (seed, threshold, q)
            assert {(i, float(d)) for i, d in batched[q]} == expected
            assert len(single) == len(expected)  # no duplicates


def test_mih_equals_numpy_scan_on_a_larger_bank() -> None:
    """The MIH kernel itself, with its chosen layout, against a vectorised popcount over all rows."""
    hashes, queries = planted_data(seed=9, n=60_000, n_queries=60)
    words, query_words = to_words(hashes), to_words(queries)
    table = mih.MultiIndexTable.build(words)
    for threshold in THRESHOLDS:
        qi, rows, d = table.search(query_words, threshold)
        got = set(zip(qi.tolist(), rows.tolist(), d.tolist()))
        assert len(got) == len(qi)
        expected = set()
        for q, qw in enumerate(query_words):
            dist = np.bitwise_count(words ^ qw).sum(axis=1)
            expected |= {(q, int(r), int(dist[r])) for r in np.flatnonzero(dist <= threshold)}
        assert got == expected, threshold


def test_pigeonhole_radii_cover_the_threshold() -> None:
    for m in (8, 11, 12, 16):
        lengths = [length for _, length in mih.split_bits(m)]
        assert sum(lengths) == 256
        for threshold in range(0, 70):
            radii = mih.radii(lengths, threshold, 10**7)
            # If every substring were farther than its radius, the total would exceed the threshold.
            assert sum(r + 1 for r in radii) > threshold


def test_add_and_remove_are_visible_immediately(search_path: str) -> None:
    hashes, _ = planted_data(seed=4, n=5000, n_queries=2)
    index = PdqIndex()
    index.add_hashes(np.arange(len(hashes)), hashes)
    index.compact()
    rng = np.random.default_rng(5)
    probe = rng.integers(0, 256, size=32, dtype=np.uint8)
    assert index.query(to_signal(probe), 31) == []

    index.add([(90_001, to_signal(flip(rng, probe, 10)))])
    assert index.query(to_signal(probe), 31) == [IndexHit(90_001, distance=10.0)]
    assert len(index) == len(hashes) + 1

    index.add([(90_001, to_signal(flip(rng, probe, 40)))])  # re-adding an id replaces its hash
    assert index.query(to_signal(probe), 31) == []
    assert [h.signal_id for h in index.query(to_signal(probe), 52)] == [90_001]
    assert len(index) == len(hashes) + 1

    index.remove([90_001, 3])  # one from the tail, one from the base
    assert index.query(to_signal(probe), 64) == []
    assert 3 not in {h.signal_id for h in index.query(to_signal(hashes[3]), 0)}
    assert len(index) == len(hashes) - 1
    index.remove([3, 123_456_789])  # removing twice or an unknown id is harmless
    assert len(index) == len(hashes) - 1


def test_many_changes_cross_merges_and_stay_exact(search_path: str) -> None:
    """Enough adds and removes to merge the tail and rebuild the base several times."""
    rng = np.random.default_rng(6)
    hashes, queries = planted_data(seed=6, n=12_000, n_queries=12)
    index = PdqIndex()
    brute = BruteForceIndex(hamming, "distance")
    next_id = 0
    for step in range(6):
        chunk = hashes[step * 2000 : (step + 1) * 2000]
        ids = np.arange(next_id, next_id + len(chunk))
        next_id += len(chunk)
        index.add_hashes(ids, chunk)
        brute.add((int(i), to_signal(h)) for i, h in zip(ids, chunk))
        gone = rng.choice(next_id, size=700, replace=False).tolist()
        index.remove(gone)
        brute.remove(gone)
        assert len(index) == len(brute)
        for threshold in (16, 52):
            for q, hits in enumerate(index.query_many(queries[:4], threshold)):
                assert {(i, float(d)) for i, d in hits} == brute_hits(brute, to_signal(queries[q]), threshold)


def test_bulk_load_in_many_adds_builds_tables_once_on_first_lookup() -> None:
    hashes, queries = planted_data(seed=8, n=20_000, n_queries=10)
    index = PdqIndex()
    for lo in range(0, len(hashes), 2500):  # as the index manager loads a store: many add calls
        index.add_hashes(np.arange(lo, lo + 2500), hashes[lo : lo + 2500])
        assert len(index._base.words) == 0  # no merge inside add
    assert len(index) == len(hashes)
    hits = index.query_many(queries, 31)
    assert len(index._base.words) == len(hashes)  # merged once, by the lookup
    words = to_words(hashes)
    for q, query in zip(hits, to_words(queries)):
        dist = np.bitwise_count(words ^ query).sum(axis=1)
        assert sorted(q) == sorted((int(i), int(dist[i])) for i in np.flatnonzero(dist <= 31))


def test_save_load_round_trip_after_removals(tmp_path: Path, search_path: str) -> None:
    hashes, queries = planted_data(seed=7, n=6000, n_queries=30)
    index = PdqIndex()
    index.add_hashes(np.arange(5000), hashes[:5000])
    index.compact()
    index.add_hashes(np.arange(5000, 5100), hashes[5000:5100])  # stays in the tail
    index.remove(range(0, 5100, 3))
    path = tmp_path / "pdq.index"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["pdq.index"]  # no temp file left behind

    loaded = PdqIndex.load(path)
    assert len(loaded) == len(index)
    assert (loaded._base.tables is not None) == (search_path == "mih")
    for threshold in THRESHOLDS:
        assert loaded.query_many(queries, threshold) == index.query_many(queries, threshold)
    # The loaded index keeps changing like the original.
    loaded.add_hashes(np.array([3]), hashes[3:4])
    loaded.remove([1])
    assert loaded.query(to_signal(hashes[3]), 0) == [IndexHit(3, distance=0.0)]
    assert 1 not in {h.signal_id for h in loaded.query(to_signal(hashes[1]), 0)}
    loaded.save(path)  # overwrite in place
    assert len(PdqIndex.load(path)) == len(loaded)


def test_rejects_bad_input() -> None:
    index = PdqIndex()
    with pytest.raises(InvalidSignal):
        index.add([(1, Signal("pdq", "abc"))])
    with pytest.raises(ValueError):
        index.add_hashes(np.arange(2), np.zeros((2, 31), np.uint8))
    assert index.query(Signal("pdq", "0" * 64), 256) == []
    index.add([(1, Signal("pdq", "0" * 64))])
    assert index.query(Signal("pdq", "f" * 64), 256) == [IndexHit(1, distance=256.0)]
    assert index.query(Signal("pdq", "f" * 64), 255.9) == []


def test_bench_smoke_reports_identical_results() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "pdq_lookup.py"), "--smoke"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    checks = [line for line in proc.stdout.splitlines() if line.startswith("CHECK")]
    assert checks, proc.stdout
    assert all(line.endswith("identical") for line in checks), proc.stdout
