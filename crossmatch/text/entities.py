"""What a translation keeps and a same-topic text does not: numbers and names.

Two texts about the same kind of event embed close together; a faithful
translation also repeats its source's figures, dates and proper names.  These
features are small, script-independent keys stored in each chunk signal's meta
so a bank item can be checked without keeping its text.

Digits of every script are folded to ASCII with ``unicodedata.digit`` (Arabic
-Indic ٤ = 4).  Names are reduced to a consonant skeleton of their
transliteration (``anyascii``): Arabic script writes few vowels, so "Moskva",
"Москва" and "موسكو" must be compared without them.

>>> sorted(numbers("В 2019 году погибли ٤٥ человек"))
['2019', '45']
>>> skeleton("Москва"), skeleton("موسكو")
('mskf', 'msk')
"""

from __future__ import annotations

import unicodedata

import regex

_DIGIT_RUN = regex.compile(r"\p{Nd}+")
# 1-3 digits, then groups of exactly three after a thousands separator: space, no-break
# spaces, comma, dot, apostrophes, Arabic thousands separator.
_THOUSANDS = regex.compile(r"(?<![\p{Nd},.])\p{Nd}{1,3}(?:[ \u00a0\u202f\u2009,.'\u2019\u066c]\p{Nd}{3})+(?![\p{Nd}])")
_WORD = regex.compile(r"[\p{L}\p{M}]+")
_CAPITALISED = regex.compile(r"(?<![\p{L}\p{M}])\p{Lu}[\p{L}\p{M}]{2,}")
_ARABIC = regex.compile(r"\p{Arabic}")
# Letters that vary between transliterations of the same name (vowels, glides,
# glottal stops) are dropped; sounds written differently are merged (v/w/f, q/k/c).
_MERGE = str.maketrans({"v": "f", "w": "f", "q": "k", "c": "k", "j": "z", "x": "k", "p": "b", "g": "k", "e": "", "a": "", "i": "", "o": "", "u": "", "y": "", "h": "", "'": "", "`": ""})


def numbers(text: str) -> frozenset[str]:
    """Digit groups in ``text`` as ASCII strings without leading zeros.

    Separators split groups ("1.5" -> 1, 5; "10 000" -> 10, 0) so that
    decimal and thousands conventions of different languages compare equal.
    A number written with thousands separators also counts whole
    ("800 000" -> 800, 0 and 800000), so it agrees with "800000" written
    without them (Arabic and English texts often drop the separator that
    Russian and Kazakh use).

    >>> sorted(numbers("около 800 000 солдат"))
    ['0', '800', '800000']
    """
    out = set()
    for run in _DIGIT_RUN.findall(text):
        out.add(_ascii_number(run))
    for grouped in _THOUSANDS.findall(text):
        out.add(_ascii_number("".join(ch for ch in grouped if unicodedata.category(ch) == "Nd")))
    return frozenset(out)


def _ascii_number(digits: str) -> str:
    return "".join(str(unicodedata.digit(ch, 0)) for ch in digits).lstrip("0") or "0"


def skeleton(word: str) -> str:
    """Consonant skeleton of a word's Latin transliteration (lower case)."""
    from anyascii import anyascii  # imported here: only name checks need it

    latin = "".join(ch for ch in anyascii(word).lower() if ch.isalpha())
    if _ARABIC.search(word) and latin:
        # و and ي are mostly long vowels inside Arabic words.
        latin = latin[0] + latin[1:].replace("w", "").replace("y", "")
    out = latin.translate(_MERGE)
    # Collapse doubled consonants ("Hassan" / "Хасан").
    return "".join(ch for i, ch in enumerate(out) if i == 0 or ch != out[i - 1])


def name_keys(text: str, min_len: int = 3) -> frozenset[str]:
    """Skeletons of likely proper names in ``text``.

    In cased scripts a name is a capitalised word that does not open a
    sentence; Arabic has no case, so every word of an Arabic text is a
    candidate (matching is then one-sided: query names looked up in it).
    """
    if _ARABIC.search(text):
        words = _WORD.findall(text)
    else:
        words = [m.group() for m in _CAPITALISED.finditer(text) if not _opens_sentence(text, m.start())]
    keys = {skeleton(w) for w in words}
    return frozenset(k for k in keys if len(k) >= min_len)


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \"'«“„(—-")
    return not before or before[-1] in ".!?…:"


def cased(text: str) -> bool:
    return not _ARABIC.search(text)


def agreement(a: frozenset[str], b: frozenset[str]) -> float | None:
    """Share of the smaller set found in the other; None when either is empty."""
    if not a or not b:
        return None
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small)


def shared_names(query: frozenset[str], bank: frozenset[str], min_len: int = 3) -> list[str]:
    """Query name skeletons that a bank skeleton spells too, allowing an ending on either side.

    Russian and Turkic declension adds endings ("Казани", "Қазанда"), so a
    skeleton also agrees with one that starts with it (both at least
    ``min_len`` consonants).  Evidence for the reviewer: the decision does not
    use it (eval/text.py measures how often true and false candidates share names).

    >>> shared_names(frozenset({"kznd"}), frozenset({"kzn", "mskf"}))
    ['kznd']
    """
    out = []
    for q in sorted(query):
        if len(q) < min_len:
            continue
        if any(len(b) >= min_len and (q.startswith(b) or b.startswith(q)) for b in bank):
            out.append(q)
    return out
