"""Sentence segmentation and windows over normalised text, in every script we serve.

Written by hand (a few regular expressions) rather than with a sentence
splitter library because it must run on normalised text in Arabic, Persian,
Cyrillic and Latin-script Turkic languages alike, keep offsets into the
original, and stay linear on 10 MB inputs; the libraries cover fewer of
these languages and some are quadratic on long unpunctuated input.

>>> from crossmatch.text.normalize import normalize
>>> [c.text for c in sentences(normalize("Dr. Smith came. Was he late? Yes! مرحبا؟ تمام."))]
['dr. smith came.', 'was he late?', 'yes!', 'مرحبا؟', 'تمام.']
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from crossmatch.text.normalize import NormalizedText

# Past this a sentence is cut at a clause mark or a space (unpunctuated posts).
MAX_SENTENCE_CHARS = 400
# Sentence ends: . ! ? … and their Arabic/Urdu/CJK/Armenian/Devanagari forms, with closing quotes.
_END = regex.compile(r"[.!?…؟۔。！？։।॥]+[\"'”’»)\]]*(?=\s|$)|\n")  # a line break ends a sentence too
_CLAUSE = regex.compile(r"[,،;؛:—–]\s")
# Words after which a full stop does not end a sentence (normalised: case-folded).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st vs etc e.g i.e u.s u.k a.m p.m no fig jan feb mar apr jun jul aug sep sept oct nov dec
    jr sr inc ltd co corp gen col lt sgt rev
    г гг т.е т.д т.п т.к др им ул см стр тыс млн млрд руб проф акад ген им пр рис напр
    ж ә.б т.б б.з.б""".split()
)


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # offset into the ORIGINAL text
    end: int  # offset into the ORIGINAL text (exclusive)
    text: str  # normalised text of the chunk


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the '.' at ``dot`` closes an abbreviation or a single initial."""
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].strip("\"'«(“")
    if len(word) == 1 and word.isalpha():
        return True  # initials: "J. Smith", "т. е."
    # (Text is case-folded, so "next word starts in lower case" cannot be used.)
    return word in _ABBREVIATIONS


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for m in _END.finditer(text):
        if _is_abbreviation(text, m.start()):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _cut_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut an over-long span at clause marks, else at spaces, else hard."""
    out = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = -1
        for m in _CLAUSE.finditer(window):
            if m.end() > limit // 2:
                cut = m.end()
        if cut < 0:
            cut = window.rfind(" ", limit // 2) + 1
        if cut <= 0:
            cut = limit
        out.append((start, start + cut))
        start += cut
    out.append((start, end))
    return out


def sentences(norm: NormalizedText, lang: str | None = None, max_chars: int = MAX_SENTENCE_CHARS) -> list[Chunk]:
    """Sentences of ``norm`` with spans into the original; empty text gives [].

    ``lang`` is accepted for language-specific rules; the current rules are
    script-level and need none.
    """
    text = norm.text
    chunks: list[Chunk] = []
    for s, e in _sentence_spans(text):
        for a, b in _cut_long(text, s, e, max_chars):
            piece = text[a:b]
            lead = len(piece) - len(piece.lstrip())
            piece = piece.strip()
            if not piece:
                continue
            a += lead
            b = a + len(piece)
            start, end = norm.span(a, b)
            chunks.append(Chunk(len(chunks), start, end, piece))
    return chunks


def windows(chunks: list[Chunk], size: int, stride: int, max_windows: int = 2000) -> list[Chunk]:
    """Overlapping windows of ``size`` chunks every ``stride`` chunks.

    Long documents give many windows; past ``max_windows`` the windows are
    spread evenly over the whole document (so the end is still covered) rather
    than growing without bound.
    """
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got size={size} stride={stride}")
    if not chunks:
        return []
    starts = list(range(0, max(1, len(chunks) - size + stride), stride))
    if len(starts) > max_windows:
        step = (len(starts) - 1) / (max_windows - 1) if max_windows > 1 else 0
        starts = [starts[round(i * step)] for i in range(max_windows)]
    out = []
    for i, first in enumerate(starts):
        group = chunks[first : first + size]
        out.append(Chunk(i, group[0].start, group[-1].end, " ".join(c.text for c in group)))
    return out
