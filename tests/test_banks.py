"""Banks and the engine's decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import open_context
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.signals.base import Content, Signal

MD5_A = "0" * 31 + "a"
MD5_B = "0" * 31 + "b"


def _item(external_id: str, *md5s: str, **labels) -> ItemUpsert:
    return ItemUpsert(external_id, [Signal("md5", v) for v in md5s], labels)


def test_bank_lifecycle(ctx):
    ctx.banks.create_bank(BankSpec(name="known-posters", labels={"project": "demo"}))
    with pytest.raises(Conflict):
        ctx.banks.create_bank(BankSpec(name="known-posters"))
    with pytest.raises(ValueError):
        BankSpec(name="bad name with spaces")
    assert [b.name for b in ctx.banks.list_banks()] == ["known-posters"]
    assert ctx.banks.upsert_items("known-posters", [_item("a", MD5_A, entity="Group X", outlet="Outlet Y")]) == ["added"]
    item, signals = ctx.banks.get_item("known-posters", "a")
    assert item.labels == {"entity": "Group X", "outlet": "Outlet Y"}
    assert [(s.type, s.value) for s in signals] == [("md5", MD5_A)]
    ctx.banks.delete_bank("known-posters")
    with pytest.raises(NotFound, match="no bank named 'known-posters'"):
        ctx.banks.get_bank("known-posters")
    # Deleting logged a removal for every signal, so indices in other processes drop them.
    added, removed, _ = ctx.banks.changes_since("md5", 0)
    assert added == [] and len(removed) == 1


def test_upsert_is_idempotent_and_logs_changes(ctx):
    ctx.banks.create_bank(BankSpec(name="b"))
    first = ctx.banks.upsert_items("b", [_item("x", MD5_A), _item("y", MD5_B)])
    assert first == ["added", "added"]
    seq = ctx.banks.latest_change()
    # A rerun (e.g. after an interrupted import) changes nothing and logs nothing.
    assert ctx.banks.upsert_items("b", [_item("x", MD5_A), _item("y", MD5_B)]) == ["unchanged", "unchanged"]
    assert ctx.banks.latest_change() == seq
    # A changed signal replaces the old one: one remove, one add.
    assert ctx.banks.upsert_items("b", [_item("x", MD5_B)]) == ["updated"]
    added, removed, _ = ctx.banks.changes_since("md5", seq)
    assert [s.value for _, s in added] == [MD5_B] and len(removed) == 1
    assert ctx.banks.bank_stats(ctx.banks.get_bank("b").id) == {"items": 2, "signals": {"md5": 2}}
    with pytest.raises(InvalidInput, match="appears twice"):
        ctx.banks.upsert_items("b", [_item("z", MD5_A), _item("z", MD5_B)])


def test_engine_respects_disabled_banks_items_and_allow_banks(ctx):
    ctx.banks.create_bank(BankSpec(name="block"))
    ctx.banks.upsert_items("block", [_item("known", MD5_A, entity="E")])
    query = [Signal("md5", MD5_A)]
    matches = ctx.engine.lookup(query)
    assert [(m.bank, m.bank_item, m.distance, m.item_labels) for m in matches] == [("block", "known", 0.0, {"entity": "E"})]

    ctx.banks.set_item_enabled("block", "known", False)
    assert ctx.engine.lookup(query) == []
    ctx.banks.set_item_enabled("block", "known", True)
    ctx.banks.update_bank("block", enabled=False)
    assert ctx.engine.lookup(query) == []
    ctx.banks.update_bank("block", enabled=True)

    # An allow bank holding the same content suppresses the block match.
    ctx.banks.create_bank(BankSpec(name="benign", kind="allow"))
    ctx.banks.upsert_items("benign", [_item("common-logo", MD5_A)])
    result = ctx.engine.scan(Content("upload", "file", data=b"unused"))
    assert result.matches == []
    matches, suppressed = ctx.engine.match_signals(query)
    assert matches == [] and suppressed[0].suppressed_by == "benign/common-logo"


def test_per_bank_thresholds(ctx):
    near = "f" * 64
    far = "f" * 56 + "0" * 8  # 32 bits away
    ctx.banks.create_bank(BankSpec(name="strict", thresholds={"pdq": 10}))
    ctx.banks.create_bank(BankSpec(name="loose", thresholds={"pdq": 40}))
    ctx.banks.upsert_items("strict", [ItemUpsert("s", [Signal("pdq", near, 100)])])
    ctx.banks.upsert_items("loose", [ItemUpsert("l", [Signal("pdq", near, 100)])])
    matches = ctx.engine.lookup([Signal("pdq", far, 100)])
    assert [(m.bank, m.distance, m.threshold) for m in matches] == [("loose", 32.0, 40.0)]


def test_changes_are_seen_by_another_process(settings):
    """A second context (like a server process) sees items added after it loaded its index."""
    with open_context(settings) as writer, open_context(settings) as server:
        writer.banks.create_bank(BankSpec(name="b"))
        writer.banks.upsert_items("b", [_item("one", MD5_A)])
        assert [m.bank_item for m in server.engine.lookup([Signal("md5", MD5_A)])] == ["one"]
        writer.banks.upsert_items("b", [_item("two", MD5_B)])
        assert [m.bank_item for m in server.engine.lookup([Signal("md5", MD5_B)])] == ["two"]
        writer.banks.delete_item("b", "one")
        assert server.engine.lookup([Signal("md5", MD5_A)]) == []


def test_a_server_sees_its_own_changes_at_once_and_others_within_its_refresh_window(settings):
    with open_context(settings, min_refresh_seconds=3600) as server, open_context(settings) as writer:
        server.banks.create_bank(BankSpec(name="b"))
        server.banks.upsert_items("b", [_item("one", MD5_A)])
        assert [m.bank_item for m in server.engine.lookup([Signal("md5", MD5_A)])] == ["one"]
        writer.banks.upsert_items("b", [_item("two", MD5_B)])
        assert server.engine.lookup([Signal("md5", MD5_B)]) == []  # not checked yet: the window is an hour
        server.indexes.refresh(force=True)
        assert [m.bank_item for m in server.engine.lookup([Signal("md5", MD5_B)])] == ["two"]
        writer.banks.update_bank("b", enabled=False)
        server.indexes.refresh(force=True)
        assert server.engine.lookup([Signal("md5", MD5_B)]) == []
