"""Unicode scripts and look-alike characters, from maintained Unicode data.

Scripts come from Unicode's Scripts.txt and look-alikes from Unicode's
confusables.txt (UTS #39), both as shipped inside the ``confusable-homoglyphs``
package, so nothing here is a hand-made table.  Folding is script-aware: a
character is replaced only by a look-alike *in the script the word is written
in*, so a Cyrillic word with a Latin "a" becomes all-Cyrillic and a Latin word
with a Cyrillic "а" becomes all-Latin; nothing is folded to Latin wholesale.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from functools import lru_cache
from importlib import resources

import regex
from confusable_homoglyphs import categories

# Scripts.txt aliases -> ISO 15924 codes for the scripts our users write in.
# Anything else is reported by its Unicode alias (e.g. "CHEROKEE", "LINEAR_B").
ISO15924 = {
    "LATIN": "Latn",
    "CYRILLIC": "Cyrl",
    "ARABIC": "Arab",
    "GREEK": "Grek",
    "HEBREW": "Hebr",
    "ARMENIAN": "Armn",
    "GEORGIAN": "Geor",
    "DEVANAGARI": "Deva",
    "HAN": "Hani",
    "HANGUL": "Hang",
    "HIRAGANA": "Hira",
    "KATAKANA": "Kana",
    "THAI": "Thai",
    "CHEROKEE": "Cher",
    "LINEAR_B": "Linb",
}
# Characters of these aliases belong to every script (punctuation, digits, marks).
NEUTRAL = frozenset({"COMMON", "INHERITED", "UNKNOWN"})


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str:
    """Unicode script alias of one character: 'LATIN', 'CYRILLIC', 'COMMON', ..."""
    try:
        return categories.alias(ch)
    except Exception:  # unassigned code points are not in Scripts.txt
        return "UNKNOWN"


def letter_scripts(text: str) -> Counter[str]:
    """How many letters of each script ``text`` has (neutral characters ignored)."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            script = script_of(ch)
            if script not in NEUTRAL:
                counts[script] += 1
    return counts


def dominant_script(text: str) -> str | None:
    counts = letter_scripts(text)
    return counts.most_common(1)[0][0] if counts else None


def iso15924(alias: str | None) -> str | None:
    if alias is None:
        return None
    return ISO15924.get(alias, alias)


@lru_cache(maxsize=1)
def _confusable_table() -> dict[str, list[str]]:
    """char -> single-character look-alikes (UTS #39 data shipped in the package)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    table: dict[str, list[str]] = {}
    for ch, entries in json.loads(raw).items():
        if len(ch) == 1:
            table[ch] = [e["c"] for e in entries if len(e["c"]) == 1]
    return table


# IPA, phonetic, small-capital and medievalist letter blocks: these are letter
# *variants*, never what an ordinary text is written in, so never a fold target.
_VARIANT_BLOCKS = ((0x0250, 0x02AF), (0x1D00, 0x1DBF), (0xA720, 0xA7FF), (0xAB30, 0xAB6F))


# ... except the letters of living orthographies that Unicode placed in the IPA block: Azerbaijani
# (and Tatar, Chechen Latin) schwa "ə", and the African reference alphabet's open vowels and
# hooked consonants.  Folding "ə" to "ǝ" broke every Azerbaijani word for the embedder (Tatoeba
# aze top-1 79.7 against 91.4 on the text as given).  No Unicode property marks "used by an
# orthography", so this short list is written by hand.
ORTHOGRAPHIC_IPA_LETTERS = "əɛɔɣɓɗɖɲʃʒɨʉʋ"

VARIANT_LETTERS = regex.compile(
    "[[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _VARIANT_BLOCKS) + "]--[" + ORTHOGRAPHIC_IPA_LETTERS + "]]",
    flags=regex.V1,
)


def letter_variant(ch: str) -> bool:
    return VARIANT_LETTERS.match(ch) is not None


_SMALL_CAPITAL = regex.compile(r"(LATIN|GREEK|CYRILLIC) LETTER SMALL CAPITAL (\w+)")


@lru_cache(maxsize=65536)
def lookalike(ch: str, script: str) -> str | None:
    """A lower-case character of ``script`` that looks like ``ch``, or None.

    Looks one hop and then two hops through the confusables relation (the data
    links e.g. Latin alpha "ɑ" to "a", and "a" to Cyrillic "а").
    """
    # Small capitals are mostly missing from confusables.txt; their Unicode names
    # ("LATIN LETTER SMALL CAPITAL E") say which plain letter they are.
    small_capital = _SMALL_CAPITAL.fullmatch(unicodedata.name(ch, ""))
    if small_capital and small_capital.group(1) == script:
        try:
            return unicodedata.lookup(f"{script} SMALL LETTER {small_capital.group(2)}")
        except KeyError:
            pass
    table = _confusable_table()

    def pick(candidates: list[str]) -> str | None:
        best = None
        for cand in sorted(candidates, key=lambda c: not c.isascii()):  # plain ASCII first
            if script_of(cand) == script and not letter_variant(cand):
                if cand == cand.casefold():
                    return cand
                best = best or cand.casefold()
        return best

    first = table.get(ch)
    if first is None:
        # Accented forms ("ά", "ќ") are not listed: use their base letter's look-alikes.
        base = unicodedata.normalize("NFD", ch)[0]
        return lookalike(base, script) if base != ch else None
    found = pick(first)
    if found is None:
        for mid in first:
            found = pick(table.get(mid, []))
            if found is not None:
                break
    return found if found is not None and len(found) == 1 else None


_WITH_DIACRITIC = regex.compile(r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z]) WITH .+")


@lru_cache(maxsize=65536)
def latin_base(ch: str) -> str | None:
    """The plain a-z letter under an accented or modified Latin letter, else None.

    From Unicode data only: the canonical decomposition ("ǻ" -> "a" + marks) or,
    for letters without one, the character name ("LATIN SMALL LETTER L WITH
    STROKE" -> "l", likewise WITH HOOK / CURL / SWASH TAIL / PALATAL HOOK).
    Letters that are not "X WITH ..." (ı, ə, ŋ, ð, ß) have no base here.
    """
    if script_of(ch) != "LATIN" or not ch.isalpha() or ch.isascii():
        return None
    base = unicodedata.normalize("NFD", ch)[0]
    if base != ch and base.isascii() and base.isalpha():
        return base.lower()
    named = _WITH_DIACRITIC.fullmatch(unicodedata.name(ch, ""))
    return named.group(1).lower() if named else None


@lru_cache(maxsize=65536)
def latin_twin(ch: str) -> str | None:
    """The a-z letter a non-Latin letter or letter-like symbol stands in for inside a Latin word.

    Tried in order, all maintained data: UTS #39 confusables (visual: Greek "α",
    Cherokee "Ꮶ", "∪"), the decomposition or name of the character or of its
    look-alike ("ά" -> "α" -> "a", "ќ" -> "к" -> "k"), and for symbols anyascii's
    transliteration when it is one letter ("₳" -> "a").  None when nothing gives a
    single plain letter (e.g. "爪", "☾"): such characters are left as they are.
    """
    from anyascii import anyascii  # a base dependency (entities.py uses it too)

    def plain(c: str | None) -> str | None:
        if c is None:
            return None
        if c.isascii():
            return c.lower() if c.isalpha() else None
        return latin_base(c)

    found = plain(lookalike(ch, "LATIN")) or latin_base(ch)
    if found is None:
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch:
            found = plain(lookalike(base, "LATIN"))
    # Transliteration is phonetic, not visual: right for currency signs named after
    # their letter ("₳" AUSTRAL -> a, "₲" GUARANI -> g), wrong for letters of other
    # scripts (Cyrillic "ҫ" -> s, Greek "η" -> i), so it is used for symbols only.
    if found is None and unicodedata.category(ch).startswith("S"):
        translit = anyascii(ch)
        if len(translit) == 1 and translit.isascii() and translit.isalpha():
            found = translit.lower()
    return found
