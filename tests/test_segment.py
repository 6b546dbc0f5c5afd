"""Sentence segmentation in Arabic, Cyrillic and Latin scripts, and windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmatch.text.normalize import normalize
from crossmatch.text.segment import MAX_SENTENCE_CHARS, sentences, windows
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

FLORES = EVALDATA_DIR / "flores200-devtest"


def _texts(text: str) -> list[str]:
    return [c.text for c in sentences(normalize(text))]


def test_latin_sentences_and_abbreviations():
    assert _texts("Dr. Smith arrived at 3.30 p.m. today. J. R. Tolkien wrote it! Did he? Yes.") == [
        "dr. smith arrived at 3.30 p.m. today.",
        "j. r. tolkien wrote it!",
        "did he?",
        "yes.",
    ]


def test_cyrillic_sentences_and_abbreviations():
    assert _texts("В 2019 г. было тепло, т. е. жарко. Почему? Не знаю…") == [
        "в 2019 г. было тепло, т. е. жарко.",
        "почему?",
        "не знаю...",  # NFKC spells the ellipsis out
    ]


def test_arabic_and_urdu_sentence_marks():
    assert _texts("هل أنت هنا؟ نعم، أنا هنا. شكرا۔") == ["هل انت هنا؟", "نعم، انا هنا.", "شكرا۔"]


def test_unpunctuated_post_falls_back_to_length_chunks():
    post = " ".join(["слово"] * 400)  # 2399 characters, no sentence mark
    chunks = sentences(normalize(post))
    assert len(chunks) > 1
    assert all(len(c.text) <= MAX_SENTENCE_CHARS for c in chunks)
    assert " ".join(c.text for c in chunks) == normalize(post).text  # cut at spaces, nothing lost


def test_chunk_spans_point_into_the_original():
    original = "Пе\u200bрвое  предложение.   Ｓｅｃｏｎｄ one!"
    chunks = sentences(normalize(original))
    assert [original[c.start:c.end] for c in chunks] == ["Пе\u200bрвое  предложение.", "Ｓｅｃｏｎｄ one!"]
    assert [c.index for c in chunks] == [0, 1]


def test_empty_text_has_no_chunks():
    assert sentences(normalize("")) == [] and sentences(normalize(" \u200b ")) == []


def test_windows_overlap_and_cover_the_end():
    chunks = sentences(normalize(" ".join(f"Sentence number {i}." for i in range(10))))
    wins = windows(chunks, size=3, stride=2)
    assert [w.text.split(".")[0] for w in wins][:2] == ["sentence number 0", "sentence number 2"]
    assert wins[-1].end == chunks[-1].end
    assert wins[0].start == chunks[0].start and wins[0].end == chunks[2].end
    assert windows(chunks[:2], size=3, stride=2)[0].text == "sentence number 0. sentence number 1."
    with pytest.raises(ValueError):
        windows(chunks, size=0, stride=1)


def test_windows_are_capped_for_huge_documents():
    chunks = sentences(normalize("Word. " * 5000))
    wins = windows(chunks, size=4, stride=2, max_windows=100)
    assert len(wins) == 100
    assert wins[0].start == chunks[0].start and wins[-1].end == chunks[-1].end


@pytest.mark.skipif(not FLORES.exists(), reason=f"FLORES-200 not found at {FLORES}")
@pytest.mark.parametrize("code", ["eng_Latn", "rus_Cyrl", "arb_Arab", "kaz_Cyrl", "uzn_Latn", "tgk_Cyrl", "pes_Arab"])
def test_flores_documents_split_back_into_their_sentences(code):
    # Joining FLORES lines (one to three sentences each) into one text must find
    # every line boundary again: the joined text splits as the lines do.
    lines = (FLORES / f"{code}.devtest").read_text("utf-8").splitlines()[:200]
    per_line = sum(len(sentences(normalize(line))) for line in lines)
    joined = sentences(normalize(" ".join(lines)))
    assert abs(len(joined) - per_line) <= 0.03 * per_line
    assert per_line <= 1.5 * len(lines)  # no shredding into fragments


def test_line_breaks_end_sentences_in_unpunctuated_posts():
    original = "Первая строка без точки\n\n  вторая строка\nтретья. И ещё  \n"
    norm = normalize(original)
    assert norm.text == "первая строка без точки\nвторая строка\nтретья. и ещё"
    chunks = sentences(norm)
    assert [c.text for c in chunks] == ["первая строка без точки", "вторая строка", "третья.", "и ещё"]
    assert [original[c.start:c.end] for c in chunks] == ["Первая строка без точки", "вторая строка", "третья.", "И ещё"]
