"""How often disguised text normalises back to the clean text (AugLy evasion tricks).

    .venv/bin/python eval/text_normalize.py [--evaldata ../shared/evaldata] [--lines 200] [--baseline REV]

Each FLORES-200 devtest sentence is disguised with one AugLy-style trick at
AugLy's test parameters (expected_metadata_text_tests.json), using AugLy's own
letter_unicode_mapping.json and fun_fonts.json for the Latin look-alikes.
Reported: the share of sentences whose ``normalize(...).text`` equals that of
the clean sentence ("text"), whose text_near matching key equals it ("key":
diacritics and punctuation dropped), and, as a baseline, whose plain
case-folded string equals it ("raw").  ``--baseline`` names a git revision whose
``normalize`` is loaded alongside (for "before" columns and the no-harm check:
the share of *clean* FLORES sentences, every file and line, that normalise
exactly as they did at that revision).  Evaluation only: nothing here is used
to produce disguised text outside this measurement.
"""

from __future__ import annotations

import argparse
import os
import importlib.util
import json
import random
import string
import subprocess
import sys
import tempfile
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

    def homoglyphs_dense(text: str, rng: random.Random) -> str:  # eval/text.py's recall test: 30% of all letters
        return "".join(rng.choice(letters[c.lower()]) if c.lower() in letters and rng.random() < 0.3 else c for c in text)

    def fun_font(text: str, rng: random.Random, name: str | None = None) -> str:  # replace_fun_fonts, aug_p 0.8
        font = fonts[name if name is not None else rng.choice(sorted(fonts))]  # one font per text
        styled = lambda w: "".join(font.get(c, c) if isinstance(font, dict) else c + font for c in w)  # noqa: E731
        return _words(text, rng, 0.8, styled, min_char=1)

    per_style = {f"fun font: {name}": (lambda t, r, n=name: fun_font(t, r, n)) for name in sorted(fonts)}

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
        "AugLy homoglyph map on 30% of all letters": homoglyphs_dense,
        "replace_fun_fonts (AugLy fonts)": fun_font,
        **per_style,
        "Cyrillic letters -> Latin twins": cyrillic_twins,
        "Arabic tashkeel + tatweel added": tashkeel,
    }


APPLIES = {  # which tricks make sense for which script
    "Latn": {"replace_similar_unicode_chars (AugLy map)", "AugLy homoglyph map on 30% of all letters",
             "replace_fun_fonts (AugLy fonts)"},
    "Cyrl": {"Cyrillic letters -> Latin twins"},
    "Arab": {"Arabic tashkeel + tatweel added"},
}
LANGS = ["eng_Latn", "uzn_Latn", "tur_Latn", "rus_Cyrl", "kaz_Cyrl", "tgk_Cyrl", "arb_Arab", "pes_Arab"]
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")


def key(text: str) -> str:
    return " ".join(_TOKEN.findall(skeleton(normalize(text).text)))


def same_words(normalised: str, clean: str) -> int:
    """How many words of ``clean`` come back identical (position by position; 0 if the word count differs)."""
    a, b = normalised.split(), clean.split()
    return sum(x == y for x, y in zip(a, b)) if len(a) == len(b) else 0


def baseline_normalize(rev: str):
    """``normalize`` as it was at git revision ``rev`` (its module loaded from ``git show``)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:crossmatch/text/normalize.py"],
                            check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("normalize_baseline", f.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    Path(f.name).unlink()
    return module.normalize


def no_harm(flores: Path, before, limit: int) -> tuple[list[str], int, int]:
    """Rows: per FLORES file, the share of clean sentences whose normalised text is unchanged."""
    rows, same_all, n_all = [], 0, 0
    for path in sorted(flores.glob("*.devtest")):
        lines = path.read_text("utf-8").splitlines()[: limit or None]
        changed = [(line, before(line).text, normalize(line).text) for line in lines]
        changed = [c for c in changed if c[1] != c[2]]
        same = len(lines) - len(changed)
        same_all, n_all = same_all + same, n_all + len(lines)
        example = f"`{changed[0][1][:60]}` -> `{changed[0][2][:60]}`" if changed else ""
        rows.append(f"| {path.stem} | {len(lines)} | {100 * same / len(lines):.1f} | {example} |")
    return rows, same_all, n_all


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaldata", type=Path, default=Path(os.environ.get("CROSSMATCH_EVALDATA", ROOT.parent / "shared" / "evaldata")))
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "text_normalize.md")
    parser.add_argument("--baseline", default="21f335bb9171b3c1a29f915e9d60028e444b83c8", help="git revision of the 'before' normalize (default: before issue 3's homoglyph folding)")
    parser.add_argument("--harm-lines", type=int, default=0, help="sentences per file for the no-harm check (0: all)")
    args = parser.parse_args()
    before = baseline_normalize(args.baseline)
    mappings = args.evaldata / "augly-image-test-assets" / "text-evasion-mappings"
    flores = args.evaldata / "flores200-devtest"
    if not mappings.exists() or not flores.exists():
        sys.exit(f"needs {mappings} and {flores}")
    tricks = transforms(mappings)
    styles = {name for name in tricks if name.startswith("fun font: ")}
    general = set(tricks) - set().union(*APPLIES.values()) - styles
    style_rows: dict[str, list[str]] = {}
    word_rows: list[str] = []
    rows = []
    totals = {"raw": [0, 0], "text": [0, 0], "key": [0, 0], "jaccard": [0.0, 0]}
    for code in LANGS:
        lines = (flores / f"{code}.devtest").read_text("utf-8").splitlines()[: args.lines]
        clean = [(line.casefold(), normalize(line).text, key(line)) for line in lines]
        clean_shingles = [shingles(c[1]) for c in clean]
        clean_before = [before(line).text for line in lines]
        for name, trick in tricks.items():
            script = code.split("_")[1]
            if name in styles:
                if script == "Latn":
                    rng = random.Random(f"{code}/{name}")
                    same = [(before(d).text == b, normalize(d).text == c[1])
                            for line, b, c in zip(lines, clean_before, clean) for d in [trick(line, rng)]]
                    style_rows.setdefault(name, []).append(
                        f"{100 * sum(s[0] for s in same) / len(same):.1f} → {100 * sum(s[1] for s in same) / len(same):.1f}")
                continue
            if name not in general and name not in APPLIES[script]:
                continue
            rng = random.Random(f"{code}/{name}")
            raw = text = text_before = keyed = 0
            words, words_before, words_n = 0, 0, 0
            similarity = 0.0
            for line, (c_raw, c_text, c_key), c_shingles, c_before in zip(lines, clean, clean_shingles, clean_before):
                disguised = trick(line, rng)
                normalised = normalize(disguised).text
                raw += disguised.casefold() == c_raw
                text += normalised == c_text
                text_before += before(disguised).text == c_before
                if "similar" in name or "homoglyph" in name:
                    words_n += len(c_text.split())
                    words += same_words(normalised, c_text)
                    words_before += same_words(before(disguised).text, c_before)
                keyed += key(disguised) == c_key
                similarity += jaccard(shingles(normalised), c_shingles)
            n = len(lines)
            if words_n:
                word_rows.append(f"| {code} | {name} | {100 * words_before / words_n:.1f} | {100 * words / words_n:.1f} |")
            for k, v in (("raw", raw), ("text", text), ("key", keyed)):
                totals[k][0] += v
                totals[k][1] += n
            totals["jaccard"][0] += similarity
            totals["jaccard"][1] += n
            rows.append(f"| {code} | {name} | {100 * raw / n:.1f} | {100 * text_before / n:.1f} | {100 * text / n:.1f} "
                        f"| {100 * keyed / n:.1f} | {similarity / n:.3f} |")
    harm_rows, harm_same, harm_n = no_harm(flores, before, args.harm_lines)
    out = [
        "# Normalisation against AugLy text-evasion tricks",
        "",
        f"Reproduce: `.venv/bin/python eval/text_normalize.py --lines {args.lines} --baseline {args.baseline[:12]}` (FLORES-200 devtest, first",
        f"{args.lines} sentences per language; AugLy mappings from `../shared/evaldata/augly-image-test-assets/text-evasion-mappings`).",
        "Share (%) of disguised sentences that come out identical to the clean sentence: *raw* = case-folded",
        "string (no normalisation), *text* = `normalize(s).text`, *key* = text_near's matching key",
        "(normalised, diacritics and punctuation dropped); *Jaccard* = mean exact Jaccard similarity of the",
        "text_near shingle sets of disguised and clean sentence (what text_near's MinHash estimates;",
        "its default threshold is 0.5). Nothing was tuned on these numbers (no choosing split).",
        "",
        f"*text % before* = the same share with `normalize` as at `{args.baseline[:12]}` (before the homoglyph folding).",
        "",
        "| FLORES file | trick (AugLy test parameters) | raw % | text % before | text % | key % | Jaccard |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "| **all** | | " + f"{100 * totals['raw'][0] / totals['raw'][1]:.1f} | | "
        + " | ".join(f"{100 * totals[k][0] / totals[k][1]:.1f}" for k in ("text", "key"))
        + f" | {totals['jaccard'][0] / totals['jaccard'][1]:.3f} |",
        "",
        "## Homoglyphs word by word",
        "",
        "A whole sentence is rarely identical after AugLy's homoglyph map: about a quarter of its targets are",
        "purely visual picks that no Unicode data links to the letter (Cherokee \"Ꭿ\" for a, CJK \"爪\" for m,",
        "Thai \"น\" for u) and stay as they are. Share (%) of the clean sentence's words that come back identical:",
        "",
        "| FLORES file | trick | words % before | words % |",
        "|---|---|---|---|",
        *word_rows,
        "",
        "## Each AugLy fun font on its own (text %, before → after)",
        "",
        "| style | " + " | ".join(c for c in LANGS if c.endswith("_Latn")) + " |",
        "|---|" + "---|" * sum(c.endswith("_Latn") for c in LANGS),
        *(f"| {name.removeprefix('fun font: ')} | " + " | ".join(cells) + " |" for name, cells in sorted(style_rows.items())),
        "",
        f"## No harm: clean FLORES sentences normalised exactly as at `{args.baseline[:12]}`",
        "",
        f"{'Every line' if not args.harm_lines else f'The first {args.harm_lines} lines'} of every FLORES-200 devtest file present;"
        " *unchanged %* = share whose `normalize(s).text`",
        "is identical before and after (first changed sentence shown, if any).",
        "",
        "| FLORES file | sentences | unchanged % | first change |",
        "|---|---|---|---|",
        *harm_rows,
        f"| **all** | {harm_n} | {100 * harm_same / harm_n:.2f} | |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out), "utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    main()
