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
# Invisible or format characters: every format character (Cf: zero-width space and joiners, bidi
# controls, soft hyphen, BOM, tags, invisible operators) and every default-ignorable code point
# (Hangul fillers, variation selectors, combining grapheme joiner, Khmer inherent vowels,
# Mongolian selectors ...), by Unicode property rather than a list.
_INVISIBLE = regex.compile(r"[\p{Cf}\p{Default_Ignorable_Code_Point}]")
# Separators of more than one character: spaces around one mark or emoji (" . ", " 📢 ", "-", "❤️").
_WIDE_SEPARATOR = regex.compile(r"\s{0,2}[^\p{L}\p{M}\p{N}\s]\s{0,2}|\s{1,2}")
# "A, B, C, D" is a list and "г. н. э." an abbreviation, not letter spacing: a mark written as
# punctuation (directly after the letter, then a space) never separates a spaced run.
_AS_PUNCTUATION = regex.compile(r"[,;:.!?]\s+")


def invisible(ch: str) -> bool:
    return _INVISIBLE.match(ch) is not None


# A character not glued to a letter before it, then "separator, character" at least three times
# (one-character separators, after every character, as AugLy inserts them) ...
_SPACED_START = regex.compile(r"(?<!\p{L})\S([ \p{P}\p{S}])(?:.\1){3}", regex.DOTALL)
# ... or single letters with any short run of marks, spaces or emoji between them.
_WIDE_START = regex.compile(r"(?<![\p{L}\p{M}])\X(?:[^\p{L}\p{M}\p{N}\n]{1,8}\p{L}\p{M}*){3}(?![\p{L}\p{M}])")


def spacing_separators(text: str) -> list[int]:
    """Where letter spacing was inserted: runs "x s x s x ..." with one repeated separator s.

    Covers "в н и м а н и е", "п.р.и.в.е.т", "В . Н . И", "В📢Н📢И", "В ❤️ Н ❤️ И" and
    text with a space or mark after *every* character (a real word gap then shows
    up doubled, so "h e l l o   w o r l d" becomes "hello world").  x is one grapheme
    cluster; s is one character, or for letters a short run of spaces around one
    mark or emoji, the same all along the run.  A run starts and ends on a cluster
    not glued to a neighbouring letter and needs MIN_SPACED_LETTERS letters.
    Invisible characters are skipped while reading the rhythm (a zero-width space
    inside the run changes nothing), so they never hide a run.  Returns the
    indices of the separators' characters in ``text``.
    """
    visible = [k for k, ch in enumerate(text) if not invisible(ch)]
    view = "".join(text[k] for k in visible) if len(visible) < len(text) else text
    clusters = [(m.start(), m.end()) for m in GRAPHEME.finditer(view)]
    if len(clusters) < 7:
        return []
    index_of = {start: n for n, (start, _) in enumerate(clusters)}
    starts = {index_of[m.start()] for pattern in (_SPACED_START, _WIDE_START)
              for m in pattern.finditer(view, overlapped=True) if m.start() in index_of}
    drop: list[int] = []
    done = 0
    for c in sorted(starts):
        if c < done:
            continue
        found = _spaced_run(view, clusters, c)
        if found is not None:
            seps, done = found
            drop.extend(k for a, b in seps for k in range(a, b))
    return [visible[k] for k in drop] if view is not text else drop


def _cluster_text(view: str, clusters: list[tuple[int, int]], a: int, b: int) -> str:
    return view[clusters[a][0] : clusters[b - 1][1]] if b > a else ""


def _is_letter(view: str, cluster: tuple[int, int]) -> bool:
    return view[cluster[0]].isalpha()


def _spaced_run(view: str, clusters: list[tuple[int, int]], c: int) -> tuple[list[tuple[int, int]], int] | None:
    """The separators (view spans) of the longest spaced run starting at cluster ``c``, and the cluster after it."""
    n = len(clusters)
    if view[clusters[c][0]].isspace():
        return None
    for width in (5, 4, 3, 2, 1):  # separator length in clusters; " . " before " "
        if c + 1 + width >= n:
            continue
        sep = _cluster_text(view, clusters, c + 1, c + 1 + width)
        if any(ch.isalnum() for ch in sep) or sep == view[clusters[c][0] : clusters[c][1]]:
            continue
        wide = width > 1 or not (len(sep) == 1 and (sep == " " or regex.match(r"[\p{P}\p{S}]", sep)))
        if wide and (_WIDE_SEPARATOR.fullmatch(sep) is None or _AS_PUNCTUATION.fullmatch(sep)
                     or not _is_letter(view, clusters[c])):
            continue
        step = 1 + width
        last = c
        while (last + step < n and _cluster_text(view, clusters, last + 1, last + step) == sep
               # wide separators space letters only; one-character ones follow every character
               and (_is_letter(view, clusters[last + step]) if wide else True)
               # the next x must not open an ordinary word ("... е мэрия")
               and not (_is_letter(view, clusters[last + step]) and last + step + 1 < n
                        and _is_letter(view, clusters[last + step + 1]))):
            last += step
        if last + 1 < n and _is_letter(view, clusters[last + 1]) and last > c:
            last -= step  # the run's last x starts a word: leave it out
        xs = range(c, last + 1, step)
        if last > c and sum(_is_letter(view, clusters[x]) for x in xs) >= MIN_SPACED_LETTERS:
            seps = [(clusters[x + 1][0], clusters[x + step - 1][1]) for x in xs if x < last]
            return seps, last + 1
    return None
