"""How often disguised text normalises back to the clean text (AugLy evasion tricks).

    .venv/bin/python eval/text_normalize.py [--evaldata ../shared/evaldata] [--lines 200]

Each FLORES-200 devtest sentence is disguised with one AugLy-style trick at
AugLy's test parameters (expected_metadata_text_tests.json), using AugLy's own
letter_unicode_mapping.json and fun_fonts.json for the Latin look-alikes.
Reported: the share of sentences whose ``normalize(...).text`` equals that of
the clean sentence ("text"), whose text_near matching key equals it ("key":
diacritics and punctuation dropped), and, as a baseline, whose plain
case-folded string equals it ("raw").  Evaluation only: nothing here is used
to produce disguised text outside this measurement.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import regex  # noqa: E402

from crossmatch.signals.text_near import shingles  # noqa: E402
from crossmatch.text.normalize import normalize, skeleton  # noqa: E402

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"]
# Cyrillic letters and their Latin twins (a disguise for Russian text).
CYRILLIC_TWINS = dict(zip("аеорсхуіјѕ", "aeopcxyijs"))
TASHKEEL = ["\u064e", "\u064f", "\u0650", "\u0651", "\u0652", "\u064b", "\u0640"]


def _words(text: str, rng: random.Random, p: float, fn: Callable[[str], str], min_char: int = 2) -> str:
    return " ".join(fn(w) if len(w) >= min_char and rng.random() < p else w for w in text.split(" "))


def _override(text: str, outer: bool = False) -> str:
    """AugLy wraps reversed text in RLO (LRO outside); mirrored for right-to-left scripts,
    where only LRO around reversed text displays as the original."""
    rtl = any(c.isalpha() and "\u0600" <= c <= "\u06ff" for c in text)
    if outer:
        return "\u202e" if rtl else "\u202d"
    return "\u202d" if rtl else "\u202e"


def transforms(mappings: Path) -> dict[str, Callable[[str, random.Random], str]]:
    letters = json.loads((mappings / "letter_unicode_mapping.json").read_text("utf-8"))
    fonts = json.loads((mappings / "fun_fonts.json").read_text("utf-8"))

    def homoglyphs(text: str, rng: random.Random) -> str:  # replace_similar_unicode_chars, 0.3 / 0.3
        swap = lambda w: "".join(rng.choice(letters[c.lower()]) if c.lower() in letters and rng.random() < 0.3 else c for c in w)  # noqa: E731
        return _words(text, rng, 0.3, swap)

    def fun_font(text: str, rng: random.Random) -> str:  # replace_fun_fonts, aug_p 0.8, one font per text
        font = fonts[rng.choice(sorted(fonts))]
        styled = lambda w: "".join(font.get(c, c) if isinstance(font, dict) else c + font for c in w)  # noqa: E731
        return _words(text, rng, 0.8, styled, min_char=1)

    def cyrillic_twins(text: str, rng: random.Random) -> str:
        swap = lambda w: "".join(CYRILLIC_TWINS.get(c, c) if rng.random() < 0.3 else c for c in w)  # noqa: E731
        return _words(text, rng, 0.3, swap)

    def tashkeel(text: str, rng: random.Random) -> str:
        marks = lambda w: "".join(c + rng.choice(TASHKEEL) if rng.random() < 0.3 else c for c in w)  # noqa: E731
        return _words(text, rng, 0.5, marks)

    return {
        "insert_zero_width_chars": lambda t, r: r.choice(ZERO_WIDTH).join(t),
        "insert_whitespace_chars": lambda t, r: " ".join(t),
        "insert_punctuation_chars": lambda t, r: r.choice(string.punctuation).join(t),
        "replace_bidirectional (all)": lambda t, r: _override(t) + t[::-1] + "\u202c",
        "replace_bidirectional (word)": lambda t, r: _override(t, outer=True)
        + " ".join(_override(w) + w[::-1] + "\u202c" for w in t.split(" ")),
        "change_case (every 5th char)": lambda t, r: "".join(c.swapcase() if i % 5 == 0 else c for i, c in enumerate(t)),
        "replace_similar_unicode_chars (AugLy map)": homoglyphs,
        "replace_fun_fonts (AugLy fonts)": fun_font,
        "Cyrillic letters -> Latin twins": cyrillic_twins,
        "Arabic tashkeel + tatweel added": tashkeel,
    }


APPLIES = {  # which tricks make sense for which script
    "Latn": {"replace_similar_unicode_chars (AugLy map)", "replace_fun_fonts (AugLy fonts)"},
    "Cyrl": {"Cyrillic letters -> Latin twins"},
    "Arab": {"Arabic tashkeel + tatweel added"},
}
LANGS = ["eng_Latn", "uzn_Latn", "tur_Latn", "rus_Cyrl", "kaz_Cyrl", "tgk_Cyrl", "arb_Arab", "pes_Arab"]
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")


def key(text: str) -> str:
    return " ".join(_TOKEN.findall(skeleton(normalize(text).text)))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaldata", type=Path, default=ROOT.parent / "shared" / "evaldata")
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "text_normalize.md")
    args = parser.parse_args()
    mappings = args.evaldata / "augly-image-test-assets" / "text-evasion-mappings"
    flores = args.evaldata / "flores200-devtest"
    if not mappings.exists() or not flores.exists():
        sys.exit(f"needs {mappings} and {flores}")
    tricks = transforms(mappings)
    general = set(tricks) - set().union(*APPLIES.values())
    rows = []
    totals = {"raw": [0, 0], "text": [0, 0], "key": [0, 0], "jaccard": [0.0, 0]}
    for code in LANGS:
        lines = (flores / f"{code}.devtest").read_text("utf-8").splitlines()[: args.lines]
        clean = [(line.casefold(), normalize(line).text, key(line)) for line in lines]
        clean_shingles = [shingles(c[1]) for c in clean]
        for name, trick in tricks.items():
            if name not in general and name not in APPLIES[code.split("_")[1]]:
                continue
            rng = random.Random(f"{code}/{name}")
            raw = text = keyed = 0
            similarity = 0.0
            for line, (c_raw, c_text, c_key), c_shingles in zip(lines, clean, clean_shingles):
                disguised = trick(line, rng)
                normalised = normalize(disguised).text
                raw += disguised.casefold() == c_raw
                text += normalised == c_text
                keyed += key(disguised) == c_key
                similarity += jaccard(shingles(normalised), c_shingles)
            n = len(lines)
            for k, v in (("raw", raw), ("text", text), ("key", keyed)):
                totals[k][0] += v
                totals[k][1] += n
            totals["jaccard"][0] += similarity
            totals["jaccard"][1] += n
            rows.append(f"| {code} | {name} | {100 * raw / n:.1f} | {100 * text / n:.1f} | {100 * keyed / n:.1f} | {similarity / n:.3f} |")
    out = [
        "# Normalisation against AugLy text-evasion tricks",
        "",
        f"Reproduce: `.venv/bin/python eval/text_normalize.py --lines {args.lines}` (FLORES-200 devtest, first",
        f"{args.lines} sentences per language; AugLy mappings from `../shared/evaldata/augly-image-test-assets/text-evasion-mappings`).",
        "Share (%) of disguised sentences that come out identical to the clean sentence: *raw* = case-folded",
        "string (no normalisation), *text* = `normalize(s).text`, *key* = text_near's matching key",
        "(normalised, diacritics and punctuation dropped); *Jaccard* = mean exact Jaccard similarity of the",
        "text_near shingle sets of disguised and clean sentence (what text_near's MinHash estimates;",
        "its default threshold is 0.5). Nothing was tuned on these numbers (no choosing split).",
        "",
        "| FLORES file | trick (AugLy test parameters) | raw % | text % | key % | Jaccard |",
        "|---|---|---|---|---|---|",
        *rows,
        "| **all** | | " + " | ".join(f"{100 * totals[k][0] / totals[k][1]:.1f}" for k in ("raw", "text", "key"))
        + f" | {totals['jaccard'][0] / totals['jaccard'][1]:.3f} |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out), "utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    main()
