"""The raw text's layout, undone before folding: bidi overrides and letter spacing.

Both work on the original string (so offsets stay exact): ``reading_order``
puts text stored back to front under a bidi override into the order a reader
sees, and ``spacing_separators`` finds the separators of "в н и м а н и е".
"""

from __future__ import annotations

from typing import Iterable, Iterator

import regex

from crossmatch.text.confusables import letter_scripts

RLO, LRO, PDF = "\u202e", "\u202d", "\u202c"
_EMBEDDINGS = frozenset("\u202a\u202b")  # LRE, RLE: also closed by PDF
_ISOLATES, _PDI = frozenset("\u2066\u2067\u2068"), "\u2069"
_RTL_SCRIPTS = frozenset({"ARABIC", "HEBREW", "SYRIAC", "THAANA", "NKO"})
GRAPHEME = regex.compile(r"\X", regex.DOTALL)


Gap = tuple[int, int, str]  # a span of the original replaced as a whole: URL/emoji -> " ", spacing -> ""
Unit = tuple[int, int, str | None]  # (start, end, replacement if it is a gap) in the original text


def units(text: str, gaps: list[Gap]) -> Iterator[Unit]:
    """Grapheme clusters of ``text`` in storage order, with each gap as one unit."""
    pos = 0
    for start, end, replacement in gaps:
        for m in GRAPHEME.finditer(text, pos, start):
            yield m.start(), m.end(), None
        yield start, end, replacement
        pos = end
    for m in GRAPHEME.finditer(text, pos):
        yield m.start(), m.end(), None


def reading_order(text: str, clusters: Iterable[Unit]) -> list[Unit]:
    """``clusters`` (from :func:`units`) in the order a reader sees them under bidi overrides.

    Stored-reversed text wrapped in a right-to-left override (RLO ... PDF)
    displays as normal text; so does reversed Arabic inside a left-to-right
    override.  Runs forced against their script's own direction are put back
    in reading order, cluster by cluster so marks stay on their letters.
    Nested embeddings are simplified to the innermost override.
    """
    items = list(clusters)
    forced: list[str | None] = []
    stack: list[str | None] = []
    for start, _, _ in items:
        ch = text[start]
        if ch in (RLO, LRO) or ch in _EMBEDDINGS or ch in _ISOLATES:
            stack.append({RLO: "R", LRO: "L"}.get(ch))
        elif ch == PDF or ch == _PDI:
            if stack:
                stack.pop()
        elif ch in "\n\r\u2029":
            stack.clear()  # overrides end with the paragraph
        forced.append(next((d for d in reversed(stack) if d), None))
    ordered: list[Unit] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and forced[j] == forced[i]:
            j += 1
        run = items[i:j]
        counts = letter_scripts(text[run[0][0] : run[-1][1]])
        letters = sum(counts.values())
        rtl_letters = sum(n for script, n in counts.items() if script in _RTL_SCRIPTS)
        # Under an override digits and punctuation turn direction too, so a forced-RTL
        # run without RTL letters (e.g. "6102") is reversed as well.
        if (forced[i] == "R" and rtl_letters * 2 <= letters) or (forced[i] == "L" and rtl_letters * 2 > letters):
            run.reverse()
        ordered.extend(run)
        i = j
    return ordered


MIN_SPACED_LETTERS = 4  # "я и ты" (two one-letter words) is ordinary text; four in a row is not


# A character not glued to a letter before it, then "separator, character" at least three times.
_SPACED_START = regex.compile(r"(?<!\p{L})\S([ \p{P}\p{S}])(?:.\1){3}", regex.DOTALL)


def spacing_separators(text: str) -> list[int]:
    """Where letter spacing was inserted: runs "x s x s x ..." with one repeated separator s.

    Covers "в н и м а н и е", "п.р.и.в.е.т" and text with a space or mark after
    *every* character (a real word gap then shows up doubled, so
    "h e l l o   w o r l d" becomes "hello world").  A run starts and ends on a
    character not glued to a neighbouring letter and needs MIN_SPACED_LETTERS
    letters.  Runs on the raw text, so an invisible character or a mark in an
    x position (Persian ZWNJ, a decomposed hamza) keeps the rhythm.
    """
    n = len(text)
    drop: list[int] = []
    done = 0
    # The regex finds where such runs can start; the loop below decides exactly.
    for candidate in _SPACED_START.finditer(text, overlapped=True):
        i = candidate.start()
        if i < done:
            continue
        sep = text[i + 1]
        if text[i] == sep:
            continue
        last = i
        while last + 2 < n and text[last + 1] == sep and not (text[last + 2].isalpha() and last + 3 < n and text[last + 3].isalpha()):
            last += 2
        if last + 1 < n and text[last + 1].isalpha():  # the run's last character starts a word: leave it out
            last -= 2
        letters = sum(ch.isalpha() for ch in text[i : last + 1 : 2])
        if last > i and letters >= MIN_SPACED_LETTERS:
            drop.extend(range(i + 1, last, 2))
            done = last + 1
    return drop
