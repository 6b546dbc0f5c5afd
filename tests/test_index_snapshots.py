"""Replicated matchers: a shared snapshot directory, one publisher, a lease on builds, memory-mapped loads."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.upsert import ItemUpsert
from crossmatch.cli import app
from crossmatch.context import open_context
from crossmatch.index.snapshots import Lease
from crossmatch.settings import Settings
from crossmatch.signals.base import Signal


def _settings(tmp_path, database_url, **scale) -> Settings:
    return Settings.load(home=tmp_path / "home", database_url=database_url, workers=1,
                         scale={"snapshot_dir": str(tmp_path / "shared"), **scale})


def _hashes(rng, n: int) -> list[str]:
    return [bytes(h).hex() for h in rng.integers(0, 256, size=(n, 32), dtype=np.uint8)]


def _fill(cx, values: list[str], prefix: str) -> None:
    cx.banks.upsert_items("b", [ItemUpsert(f"{prefix}-{i}", [Signal("pdq", v, 100)]) for i, v in enumerate(values)])


def test_replicas_start_from_the_published_snapshot_mapped_and_tail_the_change_log(tmp_path, database_url, monkeypatch):
    rng = np.random.default_rng(3)
    first, later = _hashes(rng, 300), _hashes(rng, 5)
    publisher_settings = _settings(tmp_path, database_url)
    replica_settings = _settings(tmp_path, database_url, publish_snapshots=False, snapshot_wait_s=5)
    with open_context(publisher_settings) as publisher:
        publisher.banks.create_bank(BankSpec(name="b"))
        _fill(publisher, first, "old")
        assert len(publisher.indexes.index("pdq")) == 300  # built once, under the lease, and published
        assert (tmp_path / "shared" / "pdq.index.json").exists()

        with open_context(replica_settings) as replica:
            def no_rebuild(*args, **kwargs):
                raise AssertionError("a replica rebuilt the index from the store")

            monkeypatch.setattr(replica.indexes, "_build_from_store", no_rebuild)
            index = replica.indexes.index("pdq")
            assert isinstance(index.base._base.words, np.memmap)  # served from the shared file's pages
            assert replica.engine.lookup([Signal("pdq", first[7])])[0].bank_item == "old-7"

            _fill(publisher, later, "new")  # a change made elsewhere reaches the replica through the change log
            replica.indexes.refresh(force=True)
            assert replica.engine.lookup([Signal("pdq", later[2])])[0].bank_item == "new-2"
            written = sorted(p.name for p in (tmp_path / "shared").iterdir())
        assert written == sorted(p.name for p in (tmp_path / "shared").iterdir())  # the replica wrote nothing, even on close


def test_no_two_processes_build_the_same_snapshot_at_once(tmp_path, database_url):
    rng = np.random.default_rng(4)
    settings = _settings(tmp_path, database_url, snapshot_wait_s=1.0)
    with open_context(settings) as cx:
        cx.banks.create_bank(BankSpec(name="b"))
        _fill(cx, _hashes(rng, 50), "x")
        other = Lease(cx.sessions, "snapshot:pdq", 60.0)
        assert other.acquire()  # another publisher is building the pdq snapshot
        assert not Lease(cx.sessions, "snapshot:pdq", 60.0).acquire()
    with open_context(settings) as second:
        started = time.monotonic()
        assert len(second.indexes.index("pdq")) == 50  # waited for it, then built in memory only
        assert time.monotonic() - started >= 1.0
        assert not (tmp_path / "shared" / "pdq.index.json").exists()
        other.release()
        lapsed = Lease(second.sessions, "snapshot:pdq", 0.01)
        assert lapsed.acquire()
        time.sleep(0.05)
        assert Lease(second.sessions, "snapshot:pdq", 60.0).acquire()  # a lapsed lease is taken over


def test_index_snapshot_command_publishes(tmp_path):
    rng = np.random.default_rng(5)
    settings = _settings(tmp_path, None, publish_snapshots=False)
    with open_context(settings) as cx:
        cx.banks.create_bank(BankSpec(name="b"))
        _fill(cx, _hashes(rng, 20), "y")
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "index", "snapshot", "--json"],
                                env={"CROSSMATCH_SCALE__SNAPSHOT_DIR": str(tmp_path / "shared")})
    assert result.exit_code == 0, result.output
    assert "pdq" in json.loads(result.stdout.splitlines()[-1])["snapshots"]
    meta = json.loads((tmp_path / "shared" / "pdq.index.json").read_text())
    assert meta["size"] == 20


@pytest.mark.slow
def test_ivf_pq_vectors_are_trained_once_and_saved_with_the_snapshot(tmp_path, monkeypatch):
    from crossmatch.index.vectors import VectorIndex

    rng = np.random.default_rng(6)
    centres = rng.standard_normal((2000, 32)).astype(np.float32)
    data = centres[rng.integers(0, 2000, 12_000)] + 0.3 * rng.standard_normal((12_000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = VectorIndex(32, ann_min_size=10_000, codec="pq")
    index.add_vectors(np.arange(12_000), data)
    assert index.is_approximate and "pq" in index.describe()
    scores, ids = index.search(data[:200], 10)
    assert (ids == np.arange(200)[:, None]).any(axis=1).mean() > 0.9  # lossy codes: the vector itself is in its top 10

    index.save(tmp_path / "v.npz")
    import faiss

    def no_training(*args, **kwargs):
        raise AssertionError("a snapshot load trained the index again")

    monkeypatch.setattr(faiss, "IndexIVFPQ", no_training)
    loaded = VectorIndex.load(tmp_path / "v.npz")
    again_scores, again_ids = loaded.search(data[:200], 10)
    assert np.array_equal(again_ids, ids) and np.allclose(again_scores, scores) and len(loaded) == 12_000
