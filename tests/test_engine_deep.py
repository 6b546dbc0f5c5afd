"""The costly deep pass runs only when the cheap pass decided nothing, and only for banks that want it."""

from __future__ import annotations

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.engine import Engine
from crossmatch.samples import make_poster, to_bytes
from crossmatch.signals.base import Content


class RecordingExtractor:
    """An extractor that records which items it was asked to read."""

    name = "recorder"
    kinds = frozenset({"image"})

    def __init__(self) -> None:
        self.seen: list[str] = []

    def extract(self, content: Content) -> None:
        self.seen.append(content.item)
        content.derived.setdefault("ocr", []).append({"text": "", "confidence": 0.0})


def _engine(ctx, extractor) -> Engine:
    return Engine(ctx.settings, ctx.banks, ctx.registry, ctx.indexes, [extractor])


def test_deep_pass_rules(ctx):
    known = to_bytes(make_poster(1))
    ctx.banks.create_bank(BankSpec(name="posters"))
    ctx.banks.upsert_items("posters", [ItemUpsert("p1", ctx.engine.hash_for_bank(Content("p1", "image", data=known)).signals)])
    recorder = RecordingExtractor()
    engine = _engine(ctx, recorder)

    decided = engine.scan(Content("copy", "image", data=known))
    assert decided.matches and not decided.deep and recorder.seen == []  # exact copy: no OCR needed

    other = engine.scan(Content("other", "image", data=to_bytes(make_poster(2))))
    assert other.deep and recorder.seen == ["other"]

    engine.scan(Content("skipped", "image", data=to_bytes(make_poster(3))), deep=False)
    assert recorder.seen == ["other"]

    ctx.banks.update_bank("posters", options={"ocr": False})
    engine.scan(Content("no-ocr-bank", "image", data=to_bytes(make_poster(4))))
    assert recorder.seen == ["other"]  # the only block bank opted out of OCR


def test_bank_items_keep_region_hashes_but_not_query_variants(ctx):
    hashed = ctx.engine.hash_for_bank(Content("p", "image", data=to_bytes(make_poster(5))))
    variants = {s.meta.get("variant") for s in hashed.signals if s.type == "pdq"}
    assert "original" in variants and "region" in variants
    assert not [s for s in hashed.signals if s.meta.get("query_only")]
    query = ctx.engine.hash(Content("p", "image", data=to_bytes(make_poster(5))))
    assert not [s for s in query.signals if s.meta.get("bank_only")]
    assert [s for s in query.signals if s.meta.get("query_only")]


def test_bank_text_signals_keep_no_source_text(ctx):
    content = Content("t", "text", text="The ferry leaves every forty minutes. The last crossing is at nine in the evening.")
    query = ctx.engine.hash(content).signals
    bank = ctx.engine.hash_for_bank(content).signals
    assert any("text" in s.meta for s in query), "query signals carry their passage as evidence"
    assert bank and not any("text" in s.meta for s in bank)
    assert {s.value for s in bank} == {s.value for s in query if not s.meta.get("query_only")}
