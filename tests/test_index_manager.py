"""Indices persist in the data directory and catch up incrementally from the change log."""

from __future__ import annotations

import json
import random
from pathlib import Path

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import open_context
from crossmatch.signals.base import Signal


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _flip(value: str, bits: int, rng: random.Random) -> str:
    n = int(value, 16)
    for b in rng.sample(range(256), bits):
        n ^= 1 << b
    return f"{n:064x}"


def _snapshot(settings) -> Path:
    """The data file the PDQ snapshot's meta file names."""
    meta = json.loads((settings.index_dir / "pdq.index.json").read_text())
    return settings.index_dir / meta["file"]


def test_snapshot_is_saved_loaded_and_caught_up(sqlite_settings):
    rng = random.Random(5)
    hashes = [_pdq(rng) for _ in range(300)]
    with open_context(sqlite_settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="b"))
        ctx.banks.upsert_items("b", [ItemUpsert(f"i{n}", [Signal("pdq", h, 100)]) for n, h in enumerate(hashes)])
        assert len(ctx.engine.lookup([Signal("pdq", _flip(hashes[0], 10, rng), 100)])) == 1
    assert _snapshot(sqlite_settings).exists(), "closing a context saves the PDQ index snapshot"

    # Another process adds and removes items while no index is loaded.
    with open_context(sqlite_settings) as writer:
        writer.banks.upsert_items("b", [ItemUpsert("late", [Signal("pdq", "0" * 64, 100)])])
        writer.banks.delete_item("b", "i1")

    with open_context(sqlite_settings) as ctx:
        index = ctx.indexes.index("pdq")
        assert len(index) == 300  # 300 from the snapshot + 1 added - 1 removed
        assert [m.bank_item for m in ctx.engine.lookup([Signal("pdq", "0" * 63 + "1", 100)])] == ["late"]
        assert ctx.engine.lookup([Signal("pdq", hashes[1], 100)]) == []
        assert [m.bank_item for m in ctx.engine.lookup([Signal("pdq", _flip(hashes[2], 20, rng), 100)])] == ["i2"]


def test_damaged_or_foreign_snapshot_is_rebuilt_from_the_store(sqlite_settings):
    with open_context(sqlite_settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="b"))
        ctx.banks.upsert_items("b", [ItemUpsert("x", [Signal("pdq", "f" * 64, 100)])])
        ctx.engine.lookup([Signal("pdq", "f" * 64, 100)])
    snapshot = _snapshot(sqlite_settings)
    snapshot.write_bytes(snapshot.read_bytes()[:200])  # truncated mid-write (e.g. a full disk)
    with open_context(sqlite_settings) as ctx:
        assert [m.bank_item for m in ctx.engine.lookup([Signal("pdq", "f" * 64, 100)])] == ["x"]
    # A snapshot from a newer store (another database) is ignored rather than trusted.
    meta = sqlite_settings.index_dir / "pdq.index.json"
    meta.write_text('{"seq": 999999, "size": 1}')
    with open_context(sqlite_settings) as ctx:
        assert [m.bank_item for m in ctx.engine.lookup([Signal("pdq", "f" * 64, 100)])] == ["x"]
