"""The column-block path of hash-list imports (issue 18): rows read and validated a block at a
time must name every bad row by its line, keep an item's rows together across block and chunk
edges, and load items that match with their labels, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from crossmatch.banks import bulk, importers
from crossmatch.banks.importers import ImportReport, import_path
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.upsert import ItemUpsert
from crossmatch.context import open_context
from crossmatch.index.brute import BruteForceIndex, ExactIndex
from crossmatch.signals.base import InvalidSignal, Signal, validate_many
from crossmatch.signals.exact import create_md5


def md5(i: int) -> str:
    return hashlib.md5(i.to_bytes(8, "little")).hexdigest()


def test_validate_many_checks_blocks_and_names_each_bad_value():
    md5_type = create_md5(None)
    assert validate_many(md5_type, [" " + md5(1).upper(), md5(2)]) == [md5(1), md5(2)]
    out = validate_many(md5_type, [md5(1), "zz" * 16, md5(3)[:31]])
    assert out[0] == md5(1)
    assert isinstance(out[1], InvalidSignal) and "32 hex characters" in str(out[1])
    assert isinstance(out[2], InvalidSignal)


def test_bad_rows_are_named_by_line_in_every_block(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "CSV_BLOCK", 4)  # many blocks, bad rows at their edges
    lines = ["signal_type,signal,id,entity,notes"]
    lines += [f"md5,{md5(i)},item-{i},Entity {i % 2}," for i in range(6)]  # lines 2-7
    lines += ["md5,not-a-hash,bad-1,x,"]  # line 8
    lines += ['md5,' + md5(6) + ',item-6,Entity 0,"two\nlines"']  # lines 9-10: a quoted line break
    lines += [""]  # line 11: blank, skipped
    lines += ["nosuchtype,abc,bad-2,x,"]  # line 12
    lines += ["md5," + md5(7)]  # line 13: a short row (no id: the item is named by its signal)
    lines += [",,bad-3,x,"]  # line 14: no type
    path = tmp_path / "list.csv"
    path.write_text("\n".join(lines) + "\n")
    with open_context(settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="shared"))
        report = import_path(ctx.settings, ctx.banks, ctx.registry, "shared", path, media=None)
        assert report.added == 8
        assert [e.item for e in report.errors] == [f"{path}:8", f"{path}:12", f"{path}:14"]
        assert "md5 must be 32 hex characters" in report.errors[0].error
        assert "empty signal_type" in report.errors[2].error
        item, _ = ctx.banks.get_item("shared", "item-6")
        assert item.labels == {"entity": "Entity 0", "notes": "two\nlines"}
        [hit] = ctx.engine.lookup([Signal("md5", md5(7))])
        assert hit.bank_item == f"md5:{md5(7)}"


def test_an_items_rows_stay_together_across_blocks_and_chunks(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "CSV_BLOCK", 3)
    monkeypatch.setattr(bulk, "CHUNK", 4)
    rows = [f"md5,{md5(i)},item-{i // 3},Entity {i // 3}" for i in range(12)]  # 4 items of 3 signals each
    path = tmp_path / "list.csv"
    path.write_text("signal_type,signal,id,entity\n" + "\n".join(rows) + "\n")
    chunks = list(bulk.row_chunks(importers._csv_blocks(path, _registry(settings), ImportReport(), None, settings), size=4))
    for chunk in chunks:
        assert len(set(chunk.ids)) == len(chunk.ids) / 3  # whole items only
    with open_context(settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="shared"))
        first = import_path(ctx.settings, ctx.banks, ctx.registry, "shared", path, media=None)
        assert (first.added, first.errors) == (4, [])
        again = import_path(ctx.settings, ctx.banks, ctx.registry, "shared", path, media=None)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
        for i in range(12):
            [hit] = ctx.engine.lookup([Signal("md5", md5(i))])
            assert hit.bank_item == f"item-{i // 3}"
            assert ctx.banks.get_item("shared", hit.bank_item)[0].labels == {"entity": f"Entity {i // 3}"}


def _registry(settings):
    from crossmatch.signals.registry import SignalRegistry

    return SignalRegistry.from_entry_points(settings)


def test_bulk_upsert_applies_only_real_changes(settings):
    """The set-based comparison: unchanged items cost nothing; labels, opinions, a disable and
    signals each make an item 'updated'; labels given in another key order are unchanged."""
    with open_context(settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="shared"))
        items = [ItemUpsert(f"item-{i}", [Signal("md5", md5(i))], {"entity": "A", "category": "x"}) for i in range(6)]
        assert ctx.banks.bulk_upsert("shared", items) == {"added": 6, "updated": 0, "unchanged": 0}
        again = [ItemUpsert(f"item-{i}", [Signal("md5", md5(i))], {"category": "x", "entity": "A"}) for i in range(6)]
        again[1].labels = {"entity": "B"}
        again[2].opinions = (3, 1)
        again[3].enabled = False
        again[4].signals.append(Signal("md5", md5(100)))
        again[5].signals = [Signal("md5", md5(101))]
        assert ctx.banks.bulk_upsert("shared", again) == {"added": 0, "updated": 5, "unchanged": 1}
        assert ctx.banks.get_item("shared", "item-1")[0].labels == {"entity": "B"}
        item2 = ctx.banks.get_item("shared", "item-2")[0]
        assert (item2.confirmed_count, item2.rejected_count) == (3, 1)
        assert ctx.banks.get_item("shared", "item-3")[0].enabled is False
        assert sorted(s.value for s in ctx.banks.get_item("shared", "item-4")[1]) == sorted([md5(4), md5(100)])
        assert ctx.engine.lookup([Signal("md5", md5(5))]) == []
        assert [m.bank_item for m in ctx.engine.lookup([Signal("md5", md5(101))])] == ["item-5"]
        assert ctx.banks.bulk_upsert("shared", again) == {"added": 0, "updated": 0, "unchanged": 6}


@pytest.mark.parametrize("seed", range(3))
def test_exact_index_built_from_columns_answers_like_brute_force(seed):
    import random

    rng = random.Random(seed)
    values = [rng.choice("abcdef") for _ in range(200)]  # many signals share a value
    exact, brute = ExactIndex(), BruteForceIndex(lambda a, b: 0.0 if a.value == b.value else 1.0, "distance")
    exact.add_values(list(range(100)), values[:100])
    exact.add([(i, Signal("md5", v)) for i, v in zip(range(100, 200), values[100:])])
    brute.add([(i, Signal("md5", v)) for i, v in enumerate(values)])
    moved = rng.sample(range(200), 30)
    exact.add_values(moved, ["g"] * 30)  # re-adding an id moves it to its new value
    brute.add([(i, Signal("md5", "g")) for i in moved])
    gone = rng.sample(range(200), 50)
    exact.remove(gone)
    brute.remove(gone)
    assert len(exact) == len(brute) == 150
    for value in "abcdefgh":
        query = Signal("md5", value)
        assert [h.signal_id for h in exact.query(query, 0)] == sorted(h.signal_id for h in brute.query(query, 0))
