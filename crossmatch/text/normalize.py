"""Text normalisation for matching, with offsets back into the original.

``normalize(text)`` undoes the cheap disguises used on re-uploads (look-alike
letters, fancy-font alphabets, zero-width and bidi characters, letter spacing,
Arabic diacritics) while keeping the original for display and evidence:
``offsets[i]`` is the index in ``original`` of normalised character ``i``.

>>> n = normalize("В н и м а н и е: #Test https://example.org/x 👍")
>>> n.text, n.hashtags, n.urls, n.emoji
('внимание: test', ('#test',), ('https://example.org/x',), ('👍',))
>>> n.original[n.offsets[0]:n.offsets[8]]
'В н и м а н и е'
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import emoji as emoji_data
import regex

from crossmatch.text.confusables import NEUTRAL, letter_scripts, letter_variant, lookalike, script_of


@dataclass(frozen=True)
class NormalizedText:
    original: str  # never destroyed: kept for display and evidence
    text: str  # normalised form used for matching
    offsets: tuple[int, ...]  # len(text) + 1 entries; the last is len(original)
    hashtags: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    emoji: tuple[str, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of ``text`` to the span of ``original`` it came from."""
        if end <= start:
            at = self.offsets[start]
            return at, at
        return self.offsets[start], _source_end(self, end)


def _source_end(norm: NormalizedText, end: int) -> int:
    # The last kept character may stand for several original ones (a base with
    # its marks, removed invisibles): extend over those, never over spaces.
    stop = norm.offsets[end - 1] + 1
    limit = norm.offsets[end]
    while stop < limit and (unicodedata.category(norm.original[stop])[0] == "M" or _invisible(norm.original[stop])):
        stop += 1
    return stop


_URL = regex.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'«»]+")
_URL_TRAILING = ".,;:!?)]}'\"»…"
# Zero-width, bidi controls (incl. RLO/LRO), soft hyphen, BOM, tags: category Cf,
# plus invisible marks/fillers that are not Cf.
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u3164\uffa0")
_ARABIC_DROP = frozenset(chr(c) for c in [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06DD),
                                          *range(0x06DF, 0x06E5), 0x06E7, 0x06E8, *range(0x06EA, 0x06EE), 0x0640])
_ARABIC_FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا", "ى": "ي", "ی": "ي", "ې": "ي", "ة": "ه", "ۀ": "ه"}
_UZBEK_APOSTROPHE = regex.compile(r"(?<=[og])[ʻ‘’`'ʼ´′](?=\p{L})")
# Four or more single letters separated by one space or one joiner: "в н и м а н и е".
_SPACED = regex.compile(r"(?<![\p{L}\p{M}])\p{L}\p{M}*(?:[ .\-_*·•|]\p{L}\p{M}*(?![\p{L}\p{M}])){3,}")
_HASHTAG = regex.compile(r"(?<![\w#])#([\p{L}\p{M}\p{N}_]+)")
_WORD = regex.compile(r"[\p{L}\p{M}]+")
_SPACES = regex.compile(r"\s+")


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf" or ch in _INVISIBLE_EXTRA or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF


# Generic combining marks left over after NFKC composed what it could: underlines,
# strike-throughs and overlays used as "fancy text", not part of any letter.
_DECORATIVE_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def _decorative_mark(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _DECORATIVE_BLOCKS)


def _features(text: str) -> tuple[list[tuple[int, int]], tuple[str, ...], tuple[str, ...]]:
    """Spans taken out of the text (URLs, emoji) and the features they carry."""
    spans: list[tuple[int, int, str, str]] = []
    for m in _URL.finditer(text):
        url = m.group().rstrip(_URL_TRAILING)
        spans.append((m.start(), m.start() + len(url), "url", url))
    for e in emoji_data.emoji_list(text):
        spans.append((e["match_start"], e["match_end"], "emoji", e["emoji"]))
    spans.sort()
    kept: list[tuple[int, int]] = []
    urls, emojis = [], []
    last_end = 0
    for start, end, kind, value in spans:
        if start < last_end:  # an emoji inside a URL belongs to the URL
            continue
        kept.append((start, end))
        (urls if kind == "url" else emojis).append(value)
        last_end = end
    return kept, tuple(urls), tuple(emojis)


def _fold_unicode(text: str, removed: list[tuple[int, int]]) -> tuple[list[str], list[int]]:
    """NFKC + case folding per base character with its marks; drops invisibles."""
    chars: list[str] = []
    srcs: list[int] = []
    cluster: list[str] = []
    cluster_src = 0

    def flush() -> None:
        if cluster:
            folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", "".join(cluster)).casefold())
            for ch in folded:
                if ch not in _ARABIC_DROP and not _decorative_mark(ch):
                    chars.append(_ARABIC_FOLD.get(ch, ch))
                    srcs.append(cluster_src)
            cluster.clear()

    spans = iter(removed)
    nxt = next(spans, None)
    i = 0
    while i < len(text):
        if nxt is not None and i == nxt[0]:
            flush()
            chars.append(" ")
            srcs.append(i)
            i = nxt[1]
            nxt = next(spans, None)
            continue
        ch = text[i]
        if not _invisible(ch):
            if unicodedata.combining(ch) == 0 and not unicodedata.category(ch).startswith("M"):
                flush()
                cluster_src = i
            elif not cluster:
                cluster_src = i
            cluster.append(ch)
        i += 1
    flush()
    return chars, srcs


# Whole words in these scripts are real language in our users' texts; a whole
# word in another script (Cherokee, Greek, ...) inside a text of a different
# script is far more often a disguise, and so is a lone 1-2 letter word.
_LANGUAGE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "ARABIC"})


def _fold_lookalikes(chars: list[str]) -> None:
    """Script-aware folding of mixed-script and disguised words, in place."""
    text = "".join(chars)
    doc_scripts = letter_scripts(text)
    doc_target = max(doc_scripts, key=lambda k: (doc_scripts[k], k in _LANGUAGE_SCRIPTS)) if doc_scripts else None
    # Whole words are folded only into a clearly dominant script, so a Russian
    # text quoting English acronyms keeps both.
    if doc_target is not None and doc_scripts[doc_target] < 0.75 * sum(doc_scripts.values()):
        doc_target = None
    for i, ch in enumerate(chars):
        if letter_variant(ch):  # small capitals, IPA letters: fold to the plain letter
            chars[i] = lookalike(ch, script_of(ch)) or ch
    for m in _WORD.finditer(text):
        counts = letter_scripts(m.group())
        if len(counts) >= 2:
            ranked = sorted(counts.items(), key=lambda kv: (kv[1], doc_scripts[kv[0]]), reverse=True)
            target = ranked[0][0]
        elif len(counts) == 1 and doc_target is not None:
            (script,) = counts
            if script == doc_target or (script in _LANGUAGE_SCRIPTS and counts[script] > 2):
                continue
            target = doc_target
            if any(lookalike(chars[i], target) is None for i in range(m.start(), m.end()) if chars[i].isalpha()):
                continue
        else:
            continue
        for i in range(m.start(), m.end()):
            script = script_of(chars[i])
            if script != target and script not in NEUTRAL:
                repl = lookalike(chars[i], target)
                if repl is not None:
                    chars[i] = repl


def _apply(chars: list[str], srcs: list[int], pattern: regex.Pattern, keep) -> tuple[list[str], list[int]]:
    """Rewrite matches of ``pattern``; ``keep(match, i)`` returns the replacement for char i ('' drops it)."""
    text = "".join(chars)
    out_c: list[str] = []
    out_s: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        out_c.extend(chars[pos:m.start()])
        out_s.extend(srcs[pos:m.start()])
        for i in range(m.start(), m.end()):
            repl = keep(m, i, chars[i])
            for ch in repl:
                out_c.append(ch)
                out_s.append(srcs[i])
        pos = m.end()
    out_c.extend(chars[pos:])
    out_s.extend(srcs[pos:])
    return out_c, out_s


def normalize(text: str) -> NormalizedText:
    """Normalise ``text`` for matching; see the module docstring."""
    if not isinstance(text, str):
        raise TypeError(f"normalize() needs str, got {type(text).__name__}")
    removed, urls, emojis = _features(text)
    chars, srcs = _fold_unicode(text, removed)
    _fold_lookalikes(chars)
    chars, srcs = _apply(chars, srcs, _UZBEK_APOSTROPHE, lambda m, i, ch: "\u02bb")
    chars, srcs = _apply(chars, srcs, _SPACED, lambda m, i, ch: "" if ch in " .-_*·•|" else ch)
    hashtags = tuple("#" + t for t in _HASHTAG.findall("".join(chars)))
    chars, srcs = _apply(chars, srcs, _HASHTAG, lambda m, i, ch: "" if i == m.start() else ch)
    chars, srcs = _apply(chars, srcs, _SPACES, lambda m, i, ch: " " if i == m.start() else "")
    start = 1 if chars and chars[0] == " " else 0
    end = len(chars) - 1 if len(chars) > start and chars[-1] == " " else len(chars)
    return NormalizedText(
        original=text,
        text="".join(chars[start:end]),
        offsets=tuple(srcs[start:end]) + (len(text),),
        hashtags=hashtags,
        urls=urls,
        emoji=emojis,
    )


def skeleton(text: str) -> str:
    """An aggressive matching key of already-normalised text: no diacritics at all.

    Look-alike attacks often swap letters for accented ones ("á", "ř"); that
    cannot be undone in ``normalize`` without destroying Turkish, Uzbek or
    Azerbaijani spelling, but a key used on *both* sides of a same-language
    comparison (text_near shingles) can drop every mark safely.
    Offsets are not kept: use it only to compare.

    >>> skeleton("ẵttáck dé чёрный")
    'attack de черныи'
    """
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M")))
