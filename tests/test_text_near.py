"""text_near: near-duplicate text survives edits and disguises; unrelated text does not match."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, InvalidSignal, Signal
from crossmatch.signals.text_near import SKIPPED_KEY, create, decode, encode
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

FLORES = EVALDATA_DIR / "flores200-devtest"
needs_flores = pytest.mark.skipif(not FLORES.exists(), reason=f"FLORES-200 not found at {FLORES}")


@pytest.fixture(scope="module")
def near():
    return create(Settings())


def _hash(near, text: str, item: str = "q") -> list[Signal]:
    return near.hash(Content(item=item, kind="text", text=text))


def _docs(code: str, n: int = 40, size: int = 4) -> list[str]:
    lines = (FLORES / f"{code}.devtest").read_text("utf-8").splitlines()
    return [" ".join(lines[i : i + size]) for i in range(0, n * size, size)]


def _edit(text: str, rng: random.Random) -> str:
    """A typical re-upload: a word dropped, a word changed, a homoglyph, invisible chars, a tag."""
    words = text.split()
    del words[rng.randrange(len(words))]
    words[rng.randrange(len(words))] = "срочно"
    out = " ".join(words).replace("о", "o", 2).replace(" ", " \u200b", 3)
    return "RT " + out + " #repost 🔥"


def test_examples_are_valid_and_closest_to_themselves(near):
    for example in near.examples():
        assert near.validate(example.value) == example.value
        assert near.compare(example, example) == 1.0
    a, b, _ = near.examples()
    assert near.compare(a, b) < near.default_threshold


def test_value_round_trip_and_invalid_values(near):
    values = decode(near.examples()[0].value)
    assert encode(values) == near.examples()[0].value
    for bad in ["", "mh1:128:@@@", "mh2:128:AAAA", "mh1:4:AAAA", "mh1:128:" + "A" * 8, "not a signal"]:
        with pytest.raises(InvalidSignal):
            near.validate(bad)
    with pytest.raises(InvalidSignal, match="num_perm=16"):
        near.validate(encode(values[:16]))


@needs_flores
@pytest.mark.parametrize("code", ["rus_Cyrl", "arb_Arab", "eng_Latn", "kaz_Cyrl"])
def test_edited_documents_match_and_others_do_not(near, code):
    rng = random.Random(1)
    docs = _docs(code)
    bank = [_hash(near, d, f"bank-{i}")[0] for i, d in enumerate(docs)]
    found = 0
    for i, doc in enumerate(docs):
        query = _hash(near, _edit(doc, rng))[0]
        scores = [near.compare(query, b) for b in bank]
        best = max(range(len(bank)), key=scores.__getitem__)
        found += best == i and scores[i] >= near.default_threshold
        assert all(s < near.default_threshold for j, s in enumerate(scores) if j != i), (i, sorted(scores)[-2:])
    assert found >= 0.9 * len(docs)


@needs_flores
def test_lsh_index_equals_brute_force_and_supports_removal(near):
    rng = random.Random(2)
    docs = _docs("rus_Cyrl", n=60)
    brute, fast = near.brute_force_index(), near.fast_index()
    entries = [(i, _hash(near, d)[0]) for i, d in enumerate(docs)]
    brute.add(entries)
    fast.add(entries)
    queries = [_hash(near, _edit(d, rng))[0] for d in docs[:30]] + [s for _, s in entries[30:40]]
    for threshold in (0.3, 0.5, 0.8, 0.1):
        for q in queries:
            assert {h.signal_id for h in fast.query(q, threshold)} == {h.signal_id for h in brute.query(q, threshold)}
    fast.remove([0, 1])
    assert len(fast) == 58 and 0 not in {h.signal_id for h in fast.query(entries[0][1], 0.5)}
    fast.add([(0, entries[0][1])])
    assert [h.signal_id for h in fast.query(entries[0][1], 0.99)] == [0]


@needs_flores
def test_long_document_matches_a_quoted_part_with_spans(near):
    lines = (FLORES / "rus_Cyrl.devtest").read_text("utf-8").splitlines()[:40]
    long_doc = " ".join(lines)
    bank_signals = _hash(near, long_doc, "bank")
    assert len(bank_signals) > 1 and bank_signals[0].meta["scope"] == "document"
    index = near.fast_index()
    index.add(enumerate(bank_signals))
    quote = " ".join(lines[20:26])
    query = _hash(near, "Смотрите: " + quote)
    lookup = lambda ids: {i: (7, bank_signals[i]) for i in ids}
    (cand,) = near.match(query, index, near.default_threshold, lookup)
    start, end = cand.evidence["bank_span"]
    assert lines[21] in long_doc[start:end]
    assert cand.evidence["jaccard"] >= near.default_threshold and cand.evidence["lang"] == "ru"
    (span,) = cand.evidence["query_spans"]  # the query passage the match rests on
    assert quote[:40] in ("Смотрите: " + quote)[span[0] : span[1]]


def test_short_text_is_skipped_with_a_reason(near):
    content = Content(item="tiny", kind="text", text="ok")
    assert near.hash(content) == []
    assert "tiny" in content.derived[SKIPPED_KEY]["text_near"] and "too short" in content.derived[SKIPPED_KEY]["text_near"]


def test_ocr_text_is_hashed_in_the_deep_pass_only(near):
    text = "Большой пожар в центре города, пострадавших нет, сообщили спасатели."
    image = Content(item="img", kind="image", data=b"...", derived={"ocr": [{"text": text[:30]}, {"text": text[30:]}]})
    assert near.hash(image) == []
    (signal,) = near.hash_deep(image)
    assert signal.meta["source"] == "ocr"
    assert near.compare(signal, _hash(near, text)[0]) >= 0.8
    assert near.hash_deep(Content(item="t", kind="text", text=text)) == []


@needs_flores
def test_eval_script_smoke(tmp_path):
    # eval/text_near.py on 12 documents per language: it runs and writes both splits' tables.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "text_near.md"
    subprocess.run([sys.executable, str(root / "eval" / "text_near.py"), "--docs", "12", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    report = out.read_text("utf-8")
    assert "| char5 |" in report and "| 0.3" in report and "| src.eng | 12 |" in report
