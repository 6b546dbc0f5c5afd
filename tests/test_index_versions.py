"""Immutable index versions: a layered index answers exactly as one index built from the live entries,
a published version never changes, and readers keep answering while a refresh or compaction runs."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import open_context
from crossmatch.index.brute import ExactIndex
from crossmatch.index.manager import COMPACT_MIN
from crossmatch.index.pdq_fast import PdqIndex
from crossmatch.index.vectors import VectorIndex
from crossmatch.index.versions import LayeredIndex
from crossmatch.signals.base import Signal


from tests.test_index_manager import _flip as _near, _pdq  # noqa: E402


def _vector(rng: np.random.Generator, dim: int = 16) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_layered_pdq_equals_a_fresh_index_over_random_changes():
    rng = random.Random(3)
    live: dict[int, Signal] = {}
    base = PdqIndex()
    first = [(i, Signal("pdq", _pdq(rng))) for i in range(400)]
    base.add(first)
    live.update(first)
    version = LayeredIndex(base)
    next_id = 400
    for step in range(30):  # more steps than max_layers: layers fold
        added = [(next_id + k, Signal("pdq", _near(live[rng.choice(list(live))].value, rng.randint(0, 40), rng))) for k in range(5)]
        next_id += 5
        readded = [(i, Signal("pdq", _pdq(rng))) for i in rng.sample(sorted(live), 2)]  # same id, new value
        removed = rng.sample(sorted(live), 3)
        removed = [i for i in removed if i not in dict(readded)]
        before = version
        version = version.with_changes(added + readded, removed, step + 1, PdqIndex)
        assert before.seq == step and len(before) == len(live)  # the old version is untouched
        live.update(added + readded)
        for i in removed:
            live.pop(i)
        fresh = PdqIndex()
        fresh.add(list(live.items()))
        assert len(version) == len(live)
        for probe in rng.sample(sorted(live), 5):
            query = Signal("pdq", _near(live[probe].value, 8, rng))
            got = sorted((h.signal_id, h.distance) for h in version.query(query, 31))
            want = sorted((h.signal_id, h.distance) for h in fresh.query(query, 31))
            assert got == want
        assert all((i in version) == (i in live) for i in range(next_id))


def test_layered_exact_and_vector_indices_agree_with_fresh_ones():
    layered = LayeredIndex(ExactIndex())
    layered = layered.with_changes([(1, Signal("md5", "a")), (2, Signal("md5", "b"))], [], 1, ExactIndex)
    layered = layered.with_changes([(3, Signal("md5", "a"))], [1], 2, ExactIndex)
    assert [h.signal_id for h in layered.query(Signal("md5", "a"), 0)] == [3]
    assert len(layered) == 2

    rng = np.random.default_rng(0)
    vectors = {i: _vector(rng) for i in range(50)}

    def decode(signal: Signal) -> np.ndarray:
        return vectors[int(signal.value)]

    def make() -> VectorIndex:
        return VectorIndex(16, decode=decode)

    base = make()
    base.add([(i, Signal("v", str(i))) for i in range(30)])
    version = LayeredIndex(base).with_changes([(i, Signal("v", str(i))) for i in range(30, 50)], [3, 7], 1, make)
    version = version.with_changes([], [31], 2, make)
    live = [i for i in range(50) if i not in (3, 7, 31)]
    fresh = make()
    fresh.add([(i, Signal("v", str(i))) for i in live])
    queries = np.vstack([vectors[3], vectors[40], _vector(rng)])
    got_scores, got_ids = version.search(queries, 10)
    want_scores, want_ids = fresh.search(queries, 10)
    assert got_ids.tolist() == want_ids.tolist()
    assert np.allclose(got_scores, want_scores)
    assert np.allclose(version.vectors([40, 5]), fresh.vectors([40, 5]))
    assert len(version) == len(fresh) == 47


def test_readers_keep_answering_while_another_thread_changes_the_banks(sqlite_settings):
    rng = random.Random(11)
    known = [_pdq(rng) for _ in range(200)]
    with open_context(sqlite_settings, min_refresh_seconds=0.0, serving=False) as ctx:
        ctx.banks.create_bank(BankSpec(name="b"))
        ctx.banks.upsert_items("b", [ItemUpsert(f"k{n}", [Signal("pdq", h, 100)]) for n, h in enumerate(known)])
        errors: list[BaseException] = []
        misses: list[str] = []
        stop = threading.Event()

        def reader() -> None:
            r = random.Random(threading.get_ident())
            try:
                while not stop.is_set():
                    n = r.randrange(len(known))
                    found = [m.bank_item for m in ctx.engine.lookup([Signal("pdq", _near(known[n], 10, r), 100)])]
                    if f"k{n}" not in found:
                        misses.append(f"k{n}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        readers = [threading.Thread(target=reader) for _ in range(4)]
        for t in readers:
            t.start()
        try:
            for batch in range(20):  # a writer in another thread, with refreshes racing the lookups
                ctx.banks.upsert_items("b", [ItemUpsert(f"new{batch}-{k}", [Signal("pdq", _pdq(rng), 100)]) for k in range(50)])
                ctx.indexes.refresh(force=True)
        finally:
            stop.set()
            for t in readers:
                t.join()
        assert not errors, errors[:3]
        assert not misses, misses[:5]
        assert len(ctx.indexes.index("pdq")) == 200 + 20 * 50


def test_compaction_in_the_background_keeps_every_item_and_the_old_version_serving(sqlite_settings):
    rng = random.Random(5)
    with open_context(sqlite_settings) as writer, \
            open_context(sqlite_settings, min_refresh_seconds=3600, serving=True) as server:
        writer.banks.create_bank(BankSpec(name="b"))
        writer.banks.upsert_items("b", [ItemUpsert("first", [Signal("pdq", _pdq(rng), 100)])])
        server.engine.lookup([Signal("pdq", "0" * 64, 100)])  # loads the index
        hashes = [_pdq(rng) for _ in range(COMPACT_MIN + 100)]
        writer.banks.upsert_items("b", [ItemUpsert(f"i{n}", [Signal("pdq", h, 100)]) for n, h in enumerate(hashes)])
        before = server.indexes.index("pdq")
        server.indexes.refresh(force=True)  # layers now outgrow the base: compaction starts in a thread
        server.indexes.save()  # waits for the compaction, then snapshots
        after = server.indexes.index("pdq")
        assert len(before) == 1 and len(after) == len(hashes) + 1
        assert after.layers == () and len(after.base) == len(hashes) + 1
        for n in rng.sample(range(len(hashes)), 20):
            assert [m.bank_item for m in server.engine.lookup([Signal("pdq", hashes[n], 100)])] == [f"i{n}"]


@pytest.mark.parametrize("damage", ["lost_item", "stale_item"])
def test_index_verify_finds_and_repairs_a_snapshot_that_disagrees_with_the_store(sqlite_settings, damage):
    rng = random.Random(8)
    hashes = [_pdq(rng) for _ in range(50)]
    with open_context(sqlite_settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="b"))
        ctx.banks.upsert_items("b", [ItemUpsert(f"i{n}", [Signal("pdq", h, 100)]) for n, h in enumerate(hashes)])
        ctx.engine.lookup([Signal("pdq", hashes[0], 100)])
    # Damage the saved snapshot as a skipped change would have: drop an item, or keep a deleted one.
    with open_context(sqlite_settings) as ctx:
        index = ctx.indexes.index("pdq")
        victim = next(iter(sorted(i for i in range(1, 200) if i in index)))
        if damage == "lost_item":
            index.base.remove([victim])
        else:
            index.base.add([(10_000, Signal("pdq", _pdq(rng), 100))])
        ctx.indexes._states["pdq"].saved_seq = -1
        ctx.indexes.save()
    with open_context(sqlite_settings) as ctx:
        [report] = ctx.indexes.verify(["pdq"])
        assert not report.ok
        assert (report.missing == [victim]) if damage == "lost_item" else (report.extra == 1)
        [repaired] = ctx.indexes.verify(["pdq"], repair=True)
        assert repaired.repaired
    with open_context(sqlite_settings) as ctx:
        [report] = ctx.indexes.verify(["pdq"])
        assert report.ok and report.store == report.index == 50


def test_pdq_live_ids_agrees_with_membership_one_id_at_a_time():
    """The vectorised membership a refresh uses (base, tail, removed rows, unknown ids) answers as `in`."""
    rng = random.Random(11)
    index = PdqIndex()
    index.add([(i, Signal("pdq", _pdq(rng))) for i in range(0, 600, 2)])
    index.remove(range(0, 100, 4))
    index.add([(i, Signal("pdq", _pdq(rng))) for i in range(601, 700, 2)])  # likely still in the tail
    index.remove([603, 605])
    probe = list(range(-5, 720)) + [10**12]
    assert index.live_ids(probe) == {i for i in probe if i in index}
    assert index.live_ids([]) == set()
