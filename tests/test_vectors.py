"""VectorIndex: exact and IVF modes must agree with brute force; add/remove/save/load."""

from __future__ import annotations

import numpy as np
import pytest

from crossmatch.index.brute import BruteForceIndex
from crossmatch.index.vectors import VectorIndex
from crossmatch.signals.base import Signal
from crossmatch.signals.text_xling import decode_signal, decode_vector, encode_vector


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Points around a few centres, like sentence embeddings (IVF needs structure to be accurate)."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(32, dim, seed + 1)
    v = centres[rng.integers(0, 32, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_matches_numpy_argsort():
    data = unit_rows(500, 32, 0)
    ids = np.arange(1000, 1500)
    idx = VectorIndex(32, ann_min_size=10_000)
    idx.add_vectors(ids, data)
    queries = unit_rows(20, 32, 1)
    scores, got = idx.search(queries, k=5)
    expected = ids[np.argsort(-(queries @ data.T), axis=1)[:, :5]]
    assert (got == expected).all()
    assert np.allclose(scores, np.sort(queries @ data.T, axis=1)[:, ::-1][:, :5], atol=1e-5)
    assert not idx.is_approximate


def test_remove_and_replace_are_incremental():
    data = unit_rows(10, 8, 2)
    idx = VectorIndex(8)
    idx.add_vectors(range(10), data)
    idx.remove([3, 7, 99])
    assert len(idx) == 8 and 3 not in idx and 7 not in idx
    _, got = idx.search(data[[3, 7]], k=10)
    assert 3 not in got and 7 not in got
    # the row moved into a hole is still found under its own id
    _, got = idx.search(data[[9]], k=1)
    assert got[0, 0] == 9
    idx.add_vectors([9], data[[0]])  # replacing keeps one entry per id
    assert len(idx) == 8
    assert np.allclose(idx.vectors([9]), data[[0]])


def test_small_index_pads_missing_slots():
    idx = VectorIndex(4)
    scores, ids = idx.search(unit_rows(1, 4, 3), k=3)
    assert (ids == -1).all() and np.isneginf(scores).all()
    idx.add_vectors([5], unit_rows(1, 4, 4))
    scores, ids = idx.search(unit_rows(1, 4, 3), k=3)
    assert ids[0].tolist() == [5, -1, -1]


@pytest.mark.parametrize("codec", ["fp16", "8bit", "flat"])
def test_switches_to_ivf_and_agrees_with_exact_on_clustered_data(codec):
    data = clustered(6000, 48, 5)
    exact = VectorIndex(48, ann_min_size=10**9)
    ann = VectorIndex(48, ann_min_size=4000, nprobe=32, codec=codec)
    exact.add_vectors(range(6000), data)
    ann.add_vectors(range(4000), data[:4000])
    assert ann.is_approximate
    ann.add_vectors(range(4000, 6000), data[4000:])  # incremental after the switch
    ann.remove([0, 1, 2])
    exact.remove([0, 1, 2])
    queries = data[10:60] + 0.01
    _, e_ids = exact.search(queries, k=1)
    _, a_ids = ann.search(queries, k=1)
    assert (e_ids[:, 0] == a_ids[:, 0]).mean() >= 0.95
    assert len(ann) == 5997 and 0 not in ann
    # fp16 is what text_xling signals store; 8bit loses a little more.
    assert np.allclose(ann.vectors([100, 5000]), data[[100, 5000]], atol={"flat": 1e-6, "fp16": 1e-3, "8bit": 2e-2}[codec])
    assert codec in ann.describe() and ann.memory_bytes() > 0


def test_ivf_is_retrained_with_more_lists_as_it_grows_and_keeps_every_id():
    data = clustered(9000, 32, 11)
    idx = VectorIndex(32, ann_min_size=1000)
    idx.add_vectors(range(1000), data[:1000])
    first_lists = idx._ann.nlist
    assert idx.nprobe == max(8, int(np.ceil(idx.probe_share * first_lists)))  # a share of the lists by default
    idx.remove([5])
    for start in range(1000, 9000, 1000):
        idx.add_vectors(range(start, start + 1000), data[start : start + 1000])
    assert idx._ann.nlist > first_lists and idx._trained_size >= 4000  # re-trained at 4x growth
    assert len(idx) == 8999 and 5 not in idx and 8999 in idx
    _, got = idx.search(data[[7, 8500]], k=1)
    assert got[:, 0].tolist() == [7, 8500]
    assert np.allclose(idx.vectors([8500]), data[[8500]], atol=1e-3)
    idx.nprobe = 3  # an explicit nprobe wins over the share
    assert idx._ann.nprobe == 3


def test_unknown_codec_is_refused():
    with pytest.raises(ValueError, match="unknown vector codec"):
        VectorIndex(4, codec="zstd")  # "pq" is a codec now (IVF-PQ)


def test_query_returns_the_brute_force_set():
    data = unit_rows(200, 16, 6)
    signals = [(i, Signal("text_xling", encode_vector(v))) for i, v in enumerate(data)]
    fast = VectorIndex(16, decode=decode_signal)
    brute = BruteForceIndex(lambda a, b: float(decode_vector(a.value) @ decode_vector(b.value)), "score")
    fast.add(signals)
    brute.add(signals)
    for v in unit_rows(5, 16, 7):
        q = Signal("text_xling", encode_vector(v))
        assert {h.signal_id for h in fast.query(q, 0.3)} == {h.signal_id for h in brute.query(q, 0.3)}


@pytest.mark.parametrize("ann_min_size,codec", [(10**9, "fp16"), (300, "fp16"), (300, "flat")])
def test_save_and_load_round_trip(tmp_path, ann_min_size, codec):
    data = clustered(400, 24, 8)
    idx = VectorIndex(24, ann_min_size=ann_min_size, codec=codec)
    idx.add_vectors(range(10, 410), data)
    path = tmp_path / "sub" / "text.npz"
    idx.save(path)
    assert not list(path.parent.glob("*.tmp"))  # written atomically, no leftovers
    loaded = VectorIndex.load(path)
    assert len(loaded) == 400 and loaded.is_approximate == idx.is_approximate and loaded.codec == codec
    assert loaded.nprobe == idx.nprobe
    _, a = idx.search(data[:20], k=3)
    _, b = loaded.search(data[:20], k=3)
    assert (a == b).all()


def test_duplicate_ids_in_one_add_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        VectorIndex(4).add_vectors([1, 1], unit_rows(2, 4, 9))
