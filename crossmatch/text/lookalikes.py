"""Look-alike letters of other scripts inside words, folded back (part of ``normalize``).

Two folds, both one character for one so offsets stay exact: words of a
Cyrillic, Latin or Arabic text disguised with twins from another script
(``fold_lookalikes``), and Latin words disguised with letters and symbols of
any script, or with spread accents (``fold_disguised_latin``, AugLy's
homoglyph replacement).  Both work on the case-folded characters and look at
the source text only to see how a letter was written.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import groupby

import regex

from crossmatch.text.confusables import NEUTRAL, VARIANT_LETTERS, latin_base, latin_twin, letter_scripts, lookalike, script_of
from crossmatch.text.layout import invisible

_WORD = regex.compile(r"[\p{L}\p{M}]+")


# Whole words in these scripts are real language in our users' texts; a whole
# word in another script (Cherokee, Greek, ...) inside a text of a different
# script is far more often a disguise, and so is a lone 1-2 letter word.
_LANGUAGE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "ARABIC"})
# Letters of the Latin orthographies of our users' languages (Turkmen, Azerbaijani, Uzbek, Crimean
# Tatar, Kazakh and Tatar Latin): never taken for a disguise, however rare in one short text.
_TURKIC_LATIN = frozenset("äçğıñöşüýňžəūâ")
_PLAIN_PUNCTUATION = frozenset(",.!?:;«»\"“”()…")
# What a look-alike may fold into: letters of the alphabets our users write (Russian, Ukrainian,
# Kazakh, Kyrgyz, Tatar, Tajik, Bashkir; Turkic and Western European Latin), not rare letters
# that happen to share a shape ("g" is not Komi "ԍ").
_ALPHABETS = {
    "CYRILLIC": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўғқңөұүһәӣӯҳҷҗҡҙҫ"),
    "LATIN": frozenset("abcdefghijklmnopqrstuvwxyzäçöşüýňžəğıñéèêëáàâíìîïóòôúùûœ"),
}


def fold_lookalikes(chars: list[str], original: str, srcs: list[int]) -> None:
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
    while 0 <= at < len(text) and invisible(text[at]):
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


def fold_disguised_latin(chars: list[str]) -> None:
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
    # is a Cyrillic word disguised with Latin twins (fold_lookalikes' job).
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
def _word_scripts(word: str) -> Counter[str]:
    return letter_scripts(word)
