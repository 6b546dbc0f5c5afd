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
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import regex

from crossmatch.text.lookalikes import fold_disguised_latin, fold_lookalikes
from crossmatch.text.layout import GRAPHEME, LRO, RLO, Gap, invisible, reading_order, spacing_separators, units


@dataclass(frozen=True)
class NormalizedText:
    original: str  # never destroyed: kept for display and evidence
    text: str  # normalised form used for matching
    offsets: tuple[int, ...]  # len(text) + 1 entries; the last is len(original)
    hashtags: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    emoji: tuple[str, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of ``text`` to the span of ``original`` it came from.

        Offsets rise monotonically except inside bidi-override runs, which are
        read back to front; min/max covers both.
        """
        if end <= start:
            at = self.offsets[start]
            return at, at
        window = self.offsets[start:end]
        return min(window), _source_end(self.original, max(window))


def _source_end(original: str, last: int) -> int:
    # The last kept character may stand for several original ones (a base with
    # its marks, removed invisibles after it): extend over those, never over spaces.
    stop = last + 1
    while stop < len(original) and (unicodedata.category(original[stop])[0] == "M" or _invisible(original[stop])):
        stop += 1
    return stop


_URL = regex.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'«»]+")
_URL_TRAILING = ".,;:!?)]}'\"»…"
_ARABIC_DROP = frozenset(chr(c) for c in [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06DD),
                                          *range(0x06DF, 0x06E5), 0x06E7, 0x06E8, *range(0x06EA, 0x06EE), 0x0640])
_ARABIC_FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا", "ى": "ي", "ی": "ي", "ې": "ي", "ة": "ه", "ۀ": "ه"}
_UZBEK_APOSTROPHE = regex.compile(r"(?<=[og])[ʻ‘’`'ʼ´′](?=\p{L})")
_HASHTAG = regex.compile(r"(?<![\w#])#([\p{L}\p{M}\p{N}_]+)")
_WORD = regex.compile(r"[\p{L}\p{M}]+")
_SPACES = regex.compile(r"\s+")


@lru_cache(maxsize=65536)
def _invisible(ch: str) -> bool:
    return invisible(ch)


# Generic combining marks left over after NFKC composed what it could: underlines,
# strike-throughs and overlays used as "fancy text", not part of any letter.
_DECORATIVE_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def _decorative_mark(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _DECORATIVE_BLOCKS)


@lru_cache(maxsize=65536)
def _fold_cluster(cluster: str) -> str:
    """NFKC + case folding of one base character with its marks, Arabic folds, decorations off.

    Cached: text repeats the same few hundred clusters, and this is the hot loop.
    """
    cluster = "".join(ch for ch in cluster if not _invisible(ch))
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", cluster).casefold())
    return "".join(_ARABIC_FOLD.get(ch, ch) for ch in folded if ch not in _ARABIC_DROP and not _decorative_mark(ch)).replace(
        "\u2800", " ")  # the blank Braille pattern is drawn as a space


# Only runs of these can hold an emoji, so the emoji library scans just those runs
# (it is slow per character on long text).
_EMOJI_CANDIDATES = regex.compile(
    r"(?:[#*0-9]\ufe0f?\u20e3|[\u00a9\u00ae\u203c-\u3299\U0001F000-\U0001FAFF\U000E0020-\U000E007F\u200d\ufe0f])+"
)


def _features(text: str) -> tuple[list[tuple[int, int]], tuple[str, ...], tuple[str, ...]]:
    """Spans taken out of the text (URLs, emoji) and the features they carry."""
    import emoji as emoji_data  # loads a large JSON table: only when text is normalised, not at CLI start-up

    spans: list[tuple[int, int, str, str]] = []
    for m in _URL.finditer(text):
        url = m.group().rstrip(_URL_TRAILING)
        spans.append((m.start(), m.start() + len(url), "url", url))
    for run in _EMOJI_CANDIDATES.finditer(text):
        for e in emoji_data.emoji_list(run.group()):
            spans.append((run.start() + e["match_start"], run.start() + e["match_end"], "emoji", e["emoji"]))
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


# Characters that need cluster-by-cluster folding: marks, invisibles, tatweel,
# conjoining jamo and fillers.  Tokens without them fold character for character.
_NEEDS_CLUSTERS = regex.compile(r"[\p{M}\p{Cf}\p{Cs}\u0640\u1100-\u11FF\u115F\u1160\u17B4\u17B5\u180B-\u180E\u3164\uFE00-\uFE0F\uFFA0]")
_TOKENS = regex.compile(r"\S{1,64}|\s{1,64}")  # bounded, so the token cache stays small


@lru_cache(maxsize=65536)
def _fold_token(token: str) -> str | None:
    """The folded token when folding maps it one character to one, else None."""
    if _NEEDS_CLUSTERS.search(token):
        return None
    folded = _fold_cluster(token)
    return folded if len(folded) == len(token) else None


def _fold_span(text: str, start: int, end: int, chars: list[str], srcs: list[int]) -> None:
    # Fast path for the common case: whole tokens at a time, with the same
    # result as folding each grapheme cluster (see _fold_token).
    for tok in _TOKENS.finditer(text, start, end):
        folded = _fold_token(tok.group())
        if folded is not None:
            chars.extend(folded)
            srcs.extend(range(tok.start(), tok.end()))
            continue
        for m in GRAPHEME.finditer(text, tok.start(), tok.end()):
            folded = _fold_cluster(m.group())
            chars.extend(folded)
            srcs.extend([m.start()] * len(folded))


def _fold_unicode(text: str, gaps: list[Gap]) -> tuple[list[str], list[int]]:
    """NFKC + case folding per grapheme cluster in reading order; gaps become their replacement."""
    chars: list[str] = []
    srcs: list[int] = []
    if RLO not in text and LRO not in text:
        pos = 0
        for start, end, replacement in gaps:
            _fold_span(text, pos, start, chars, srcs)
            chars.extend(replacement)
            srcs.extend([start] * len(replacement))
            pos = end
        _fold_span(text, pos, len(text), chars, srcs)
        return chars, srcs
    for start, end, replacement in reading_order(text, units(text, gaps)):
        folded = replacement if replacement is not None else _fold_cluster(text[start:end])
        chars.extend(folded)
        srcs.extend([start] * len(folded))
    return chars, srcs


def _emoji_gap(text: str, end: int) -> str:
    """What an emoji or URL leaves in the text: a line break when a capital letter follows it.

    In chatty posts an emoji often ends a sentence that has no full stop
    ("Look what they write 👇 The mayor said ..."); without a break the
    opener and the quoted sentence would be read as one sentence.  Only a
    following capital says so (uncased scripts keep a space).
    """
    at = end
    while at < len(text) and (text[at].isspace() or _invisible(text[at])):
        at += 1
    return "\n" if at < len(text) and text[at].isupper() else " "


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
    features, urls, emojis = _features(text)
    spacing = set(spacing_separators(text))
    # An emoji used as a letter-spacing separator ("В📢Н📢И") goes without leaving a gap.
    gaps = [(start, end, "" if all(k in spacing or _invisible(text[k]) for k in range(start, end)) else _emoji_gap(text, end))
            for start, end in features]
    starts = [start for start, _ in features]  # sorted, non-overlapping

    def in_feature(k: int) -> bool:
        i = bisect_right(starts, k) - 1
        return i >= 0 and k < features[i][1]

    gaps += [(k, k + 1, "") for k in sorted(spacing) if not in_feature(k)]
    chars, srcs = _fold_unicode(text, sorted(gaps))
    fold_disguised_latin(chars)
    fold_lookalikes(chars, text, srcs)
    chars, srcs = _apply(chars, srcs, _UZBEK_APOSTROPHE, lambda m, i, ch: "\u02bb")
    hashtags = tuple("#" + t for t in _HASHTAG.findall("".join(chars)))
    chars, srcs = _apply(chars, srcs, _HASHTAG, lambda m, i, ch: "" if i == m.start() else ch)
    # A whitespace run becomes one space, or one line break if it had one (a post's
    # line breaks often stand in for sentence punctuation; segmentation uses them).
    chars, srcs = _apply(chars, srcs, _SPACES, lambda m, i, ch: ("\n" if "\n" in m.group() else " ") if i == m.start() else "")
    start = 1 if chars and chars[0] in " \n" else 0
    end = len(chars) - 1 if len(chars) > start and chars[-1] in " \n" else len(chars)
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
    # Dotless ı has no dotted-i decomposition; folding it makes Turkish case changes harmless.
    decomposed = unicodedata.normalize("NFD", text.replace("ı", "i"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M")))
