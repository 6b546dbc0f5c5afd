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
from collections import Counter
from itertools import groupby
from dataclasses import dataclass
from functools import lru_cache

import emoji as emoji_data
import regex

from crossmatch.text.confusables import NEUTRAL, VARIANT_LETTERS, latin_base, latin_twin, letter_scripts, lookalike, script_of
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


# Whole words in these scripts are real language in our users' texts; a whole
# word in another script (Cherokee, Greek, ...) inside a text of a different
# script is far more often a disguise, and so is a lone 1-2 letter word.
_LANGUAGE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "ARABIC"})
# What a look-alike may fold into: letters of the alphabets our users write (Russian, Ukrainian,
# Kazakh, Kyrgyz, Tatar, Tajik, Bashkir; Turkic and Western European Latin), not rare letters
# that happen to share a shape ("g" is not Komi "ԍ").
# Letters of the Latin orthographies of our users' languages (Turkmen, Azerbaijani, Uzbek, Crimean
# Tatar, Kazakh and Tatar Latin): never taken for a disguise, however rare in one short text.
_TURKIC_LATIN = frozenset("äçğıñöşüýňžəūâ")
_PLAIN_PUNCTUATION = frozenset(",.!?:;«»\"“”()…")
_ALPHABETS = {
    "CYRILLIC": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўғқңөұүһәӣӯҳҷҗҡҙҫ"),
    "LATIN": frozenset("abcdefghijklmnopqrstuvwxyzäçöşüýňžəğıñéèêëáàâíìîïóòôúùûœ"),
}


def _fold_lookalikes(chars: list[str], original: str, srcs: list[int]) -> None:
    """Script-aware folding of mixed-script and disguised words, in place.

    A word mixing scripts folds into the script its *distinctive* letters are
    written in (letters with no look-alike in the word's other script: "б",
    "щ", "л" make "сooбщилa" Cyrillic whatever the count of Latin "o"s);
    without any, into the text's dominant script.  A letter is looked up as
    the source wrote it, so an upper-case Latin "H", "K", "M", "T" or "B"
    inside a Cyrillic word folds to "н", "к", "м", "т", "в" although its
    lower case looks like nothing Cyrillic.
    """
    text = "".join(chars)
    words = [(m, _word_scripts(m.group())) for m in _WORD.finditer(text)]
    doc_scripts, doc_target = _dominant(words)
    for m in VARIANT_LETTERS.finditer(text):  # small capitals, IPA letters: fold to the plain letter
        chars[m.start()] = lookalike(m.group(), script_of(m.group())) or m.group()

    def source(i: int) -> str:
        ch = original[srcs[i]] if srcs[i] < len(original) else chars[i]
        return ch if ch.casefold() == chars[i] else chars[i]

    def twin(i: int, target: str, as_written: bool = True) -> str | None:
        # As written first: an upper-case "H" stands for "Н", whatever its lower case resembles.
        found = lookalike(source(i), target) if as_written and source(i) != chars[i] else None
        if found is None:
            found = lookalike(chars[i], target)
        found = found.casefold() if found is not None else None
        if found is None or len(found) != 1 or not found.isalpha():  # never a digit ("v" ~ "۷")
            return None
        return found if target not in _ALPHABETS or found in _ALPHABETS[target] else None

    for m, counts in words:  # mixed-script words first: they say which script the text is in
        if len(counts) < 2:
            continue
        distinctive: Counter[str] = Counter()
        for i in range(m.start(), m.end()):
            script = script_of(chars[i])
            # Evidence for a script: a letter of its common alphabet that looks like nothing in the other.
            if (script in counts and chars[i] in _ALPHABETS.get(script, chars[i])
                    and all(twin(i, other) is None for other in counts if other != script)):
                distinctive[script] += 1
        runs = [script for script, _ in groupby(script_of(ch) for ch in m.group() if script_of(ch) not in NEUTRAL)]
        if len(runs) == 2 and all(distinctive[script] for script in runs):
            continue  # a foreign stem with a native suffix ("brexitтин", "appleда"): two real words, no disguise
        target = max(counts, key=lambda k: (distinctive[k], k == doc_target, counts[k], doc_scripts[k]))
        _fold_word(chars, m, target, twin)
    words = [(m, _word_scripts(m.group())) for m in _WORD.finditer("".join(chars))]
    doc_scripts, doc_target = _dominant(words)
    if doc_target is None:
        return
    for m, counts in words:  # then whole words in a foreign script, if every letter has a twin
        if len(counts) != 1:
            continue
        (script,) = counts
        if script == doc_target or (script in _LANGUAGE_SCRIPTS and counts[script] > 2):
            continue
        # Acronyms ("TB", "IT") and letters in codes ("H5N1", "M16", "super-G") are real Latin, not disguises.
        written = original[srcs[m.start()] : srcs[m.end() - 1] + 1]
        around = _neighbour(original, srcs[m.start()], -1) + _neighbour(original, srcs[m.end() - 1], +1)
        if (len(written) > 1 and written.isupper()) or any(not (ch.isspace() or ch in _PLAIN_PUNCTUATION) for ch in around):
            continue
        if all(twin(i, doc_target) is not None for i in range(m.start(), m.end()) if chars[i].isalpha()):
            _fold_word(chars, m, doc_target, twin)


def _neighbour(text: str, at: int, step: int) -> str:
    """The first visible character before (step -1) or after (+1) ``text[at]``, or ''."""
    at += step
    while 0 <= at < len(text) and _invisible(text[at]):
        at += step
    return text[at] if 0 <= at < len(text) else ""


def _dominant(words) -> tuple[Counter[str], str | None]:
    """Letters per script over ``words``, and the script holding 75% of them (None if none does)."""
    doc_scripts: Counter[str] = Counter()
    for _, counts in words:
        doc_scripts.update(counts)
    if not doc_scripts:
        return doc_scripts, None
    target = max(doc_scripts, key=lambda k: (doc_scripts[k], k in _LANGUAGE_SCRIPTS))
    # Whole words are folded only into a clearly dominant script, so a Russian
    # text quoting English acronyms keeps both.
    return doc_scripts, (target if doc_scripts[target] >= 0.75 * sum(doc_scripts.values()) else None)


def _fold_word(chars: list[str], m, target: str, twin) -> None:
    for i in range(m.start(), m.end()):
        script = script_of(chars[i])
        if script != target and script not in NEUTRAL:
            repl = twin(i, target)
            if repl is not None:
                chars[i] = repl


# A Latin word as a disguise sees it: letters and marks, plus non-ASCII symbols
# standing in for letters ("₳ttack", "∀ll").  ASCII symbols are left out on
# purpose: "@" and "$" between letters are e-mail addresses and "US$", not disguises.
# Modifier symbols (Sk: ´ ` ^ ¨) are accents and apostrophes (Uzbek o´zbek), never letters.
_LATIN_DISGUISE_WORD = regex.compile(r"(?:[\p{L}\p{M}]|[\p{Sc}\p{Sm}\p{So}--\p{ASCII}])+", regex.V1)
_STANDS_IN_SYMBOL = regex.compile(r"[\p{Sc}\p{Sm}\p{So}]")
# An accented letter is part of the text's own alphabet when the text uses it
# repeatedly (three times or more) and as a real share of its base letter's uses; a homoglyph tool
# spreads ~30% of a letter's uses over ~20-30 variants, so each variant is ~1%
# of them and rarely repeats.  The share floor sits below the rarest real
# letters seen in clean Turkic text (Turkmen "ž" ~4% of z-letters, "ä" ~9%);
# the repeat is the main test.  Set from that reasoning, not tuned on the
# disguise evaluation.
_OWN_LETTER_MIN_COUNT = 3
_OWN_LETTER_MIN_SHARE = 0.05


def _fold_disguised_latin(chars: list[str]) -> None:
    """Undo homoglyph disguises in Latin words (AugLy's replace_similar_unicode_chars), in place.

    1. Inside a word that is mostly Latin, a letter of another script or a
       letter-like symbol ("Ꭿ", "₳", "ά", "ќ") becomes the Latin letter it
       stands for (confusables.latin_twin); each such character is *evidence*
       of a disguise, since no orthography writes words that way.
    2. Only when a text shows at least two such swaps, its accented Latin
       letters that are not part of the text's own alphabet (see
       _OWN_LETTER_MIN_COUNT/_SHARE) fold to their base letter ("ǻ", "ḿ",
       "ŗ" -> a, m, r).  Clean text has no such evidence and is never touched,
       so Turkmen ä ň ý ž, Turkish ç ğ ş, Vietnamese ằ ợ keep their letters.
    Replacements are one character for one, so offsets stay exact.
    """
    text = "".join(chars)
    if text.isascii():
        return
    # Only in Latin-script text: in a Russian or Kazakh text a mostly-Latin word
    # is a Cyrillic word disguised with Latin twins (_fold_lookalikes' job).
    doc_scripts = letter_scripts(text)
    if not doc_scripts or doc_scripts.most_common(1)[0][0] != "LATIN":
        return
    evidence = 0
    for m in _LATIN_DISGUISE_WORD.finditer(text):
        word = m.group()
        if word.isascii() or (word.isalpha() and script_of(word[0]) == "LATIN" and len(_word_scripts(word)) == 1):
            continue
        counts = _word_scripts(word)
        if 2 * counts["LATIN"] <= sum(counts.values()):  # Latin must be the clear majority of the word
            continue
        symbols_ok = counts["LATIN"] >= 2  # "°C", "€5": a symbol next to one letter is just a symbol
        for i in range(m.start(), m.end()):
            ch = chars[i]
            if ch.isalpha():
                if script_of(ch) in NEUTRAL or script_of(ch) == "LATIN":
                    continue
            elif not (symbols_ok and _STANDS_IN_SYMBOL.match(ch)):
                continue
            evidence += 1  # even when nothing says which letter it stands for ("爪")
            twin = latin_twin(ch)
            if twin is not None:
                chars[i] = twin
    if evidence < 2:
        return
    bases = [latin_base(ch) if not ch.isascii() else None for ch in chars]
    per_base: Counter[str] = Counter()
    per_letter: Counter[str] = Counter()
    for ch, base in zip(chars, bases):
        if base is not None:
            per_letter[ch] += 1
            per_base[base] += 1
        elif ch.isascii() and ch.isalpha():
            per_base[ch] += 1
    variants: Counter[str] = Counter(latin_base(ch) for ch in per_letter)
    # Turkic letters fold only in a text that also shows other, odd accented variants (an
    # accent-spreading tool); a Turkmen text disguised with Cyrillic twins keeps its "ü", "ä".
    odd = {ch for ch, base in zip(chars, bases) if base is not None and ch not in _TURKIC_LATIN}
    for i, (ch, base) in enumerate(zip(chars, bases)):
        if base is None or (ch in _TURKIC_LATIN and len(odd) < 2):
            continue
        # No orthography in our scope has more than three accented forms of one
        # letter in a sentence (French é è ê); a tool spreading ~25 variants does,
        # and then a chance repeat is not enough to call a variant the text's own.
        min_count = _OWN_LETTER_MIN_COUNT + (variants[base] > 3)
        own = per_letter[ch] >= min_count and per_letter[ch] >= _OWN_LETTER_MIN_SHARE * per_base[base]
        if not own:
            chars[i] = base


@lru_cache(maxsize=65536)
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


@lru_cache(maxsize=65536)
def _word_scripts(word: str) -> Counter[str]:
    return letter_scripts(word)


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
    _fold_disguised_latin(chars)
    _fold_lookalikes(chars, text, srcs)
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
