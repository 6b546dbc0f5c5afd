"""Normalisation: disguises fold away, scripts stay themselves, offsets map back."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest

from crossmatch.text.confusables import dominant_script, latin_base, script_of
from crossmatch.text.normalize import normalize, skeleton
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

EVALDATA = EVALDATA_DIR
MAPPINGS = EVALDATA / "augly-image-test-assets" / "text-evasion-mappings"
FLORES = EVALDATA / "flores200-devtest"


def test_nfkc_casefold_and_fancy_fonts():
    assert normalize("𝐁𝐨𝐥𝐝 ⓒⓘⓡⓒⓛⓔ ＦＵＬＬ Straße").text == "bold circle full strasse"
    assert normalize("ꜱᴍᴀʟʟ ᴄᴀᴘɪᴛᴀʟꜱ").text == "small capitals"  # folded by their Unicode names


def test_invisible_and_bidi_characters_are_removed():
    disguised = "ter\u200bror\u00ad \u200fсооб\u200eщение\u2060 \u2066x\u2069\ufeff"
    assert normalize(disguised).text == "terror сообщение x"


def test_mixed_script_word_folds_into_its_own_script():
    # Latin "e" and "a" inside Russian words become Cyrillic: the text stays Russian.
    russian = normalize("Это тeст для прoверки а")
    assert russian.text == normalize("Это тест для проверки а").text
    assert dominant_script(russian.text) == "CYRILLIC"
    assert all(ord(c) > 0x400 or not c.isalpha() for c in russian.text)
    # Cyrillic "е" and "а" inside English words become Latin.
    assert normalize("Rеаl test").text == "real test"


def test_real_text_in_two_scripts_is_kept():
    # A Russian sentence quoting English acronyms keeps both scripts.
    text = normalize("Сегодня ISIS и COVID обсуждали")
    assert "isis" in text.text and "covid" in text.text and " и " in text.text


def test_arabic_diacritics_tatweel_and_letter_variants():
    assert normalize("الْعَرَبِيَّةُ").text == normalize("العربية").text == "العربيه"
    assert normalize("أحمد إلى آخر").text == "احمد الي اخر"
    assert normalize("كـــتاب").text == "كتاب"


def test_uzbek_apostrophes_become_okina():
    for variant in ["o‘zbek", "o'zbek", "o’zbek", "o`zbek", "oʻzbek", "oʼzbek"]:
        assert normalize(variant).text == "o\u02bbzbek"
    assert normalize("G'alaba").text == "g\u02bbalaba"


def test_skeleton_drops_every_mark_for_matching_keys():
    assert skeleton(normalize("Ţĥé ăttáck").text) == "the attack"
    assert skeleton("ёж й") == "еж и"


def test_letter_spaced_words_are_rejoined():
    assert normalize("в н и м а н и е всем").text == "внимание всем"
    assert normalize("a t t a c k now").text == "attack now"
    # Two spaces separate spaced words; ordinary short words are left alone.
    assert normalize("я и ты").text == "я и ты"
    # AugLy insert_punctuation_chars puts one mark after every character.
    assert normalize("п,р,и,в,е,т").text == "привет"
    assert normalize(".".join("Hello, world")).text == "hello, world"
    # AugLy insert_whitespace_chars: a space after every character, so word gaps are triple.
    assert normalize(" ".join("The cat, in 2019, sat.")).text == "the cat, in 2019, sat."
    assert normalize("U.S.A. is here").text == "u.s.a. is here"  # three letters: an abbreviation


def test_features_are_separated_and_kept():
    n = normalize("Смотри #Новости https://example.org/a?b=1, 👍🏽 и www.test.com.")
    assert n.hashtags == ("#новости",)
    assert n.urls == ("https://example.org/a?b=1", "www.test.com")
    assert n.emoji == ("👍🏽",)
    assert n.text == "смотри новости , и ."


def test_offsets_map_back_to_the_original():
    original = "Ｈｅｌｌｏ,  \u200bмир! الْعَرَبِيَّةُ"
    n = normalize(original)
    assert len(n.offsets) == len(n.text) + 1 and n.offsets[-1] == len(original)
    assert list(n.offsets) == sorted(n.offsets)  # no bidi override here: offsets only rise
    start = n.text.index("мир")
    assert n.original[slice(*n.span(start, start + 3))] == "мир"
    start = n.text.index("العربيه")
    assert n.original[slice(*n.span(start, start + 7))] == "الْعَرَبِيَّةُ"


def test_bidi_overrides_are_read_as_displayed():
    # AugLy replace_bidirectional: text stored reversed inside RLO ... PDF displays normally.
    text = "The meeting is at noon"
    assert normalize("\u202e" + text[::-1] + "\u202c").text == "the meeting is at noon"
    per_word = "\u202d" + " ".join("\u202e" + w[::-1] + "\u202c" for w in text.split())
    assert normalize(per_word).text == "the meeting is at noon"
    # Reversed Arabic inside a left-to-right override; Arabic inside RLO is already in order.
    arabic = "مرحبا بالعالم"
    assert normalize("\u202d" + arabic[::-1] + "\u202c").text == normalize("\u202e" + arabic + "\u202c").text == arabic
    n = normalize("x \u202e" + "olleh" + "\u202c y")
    assert n.text == "x hello y" and n.original[slice(*n.span(2, 7))] == "olleh\u202c"


def test_empty_and_emoji_only_text():
    assert normalize("").text == "" and normalize("").offsets == (0,)
    only = normalize("🔥🔥 👍")
    assert only.text == "" and only.emoji == ("🔥", "🔥", "👍")


def _disguise(text: str, mapping: dict[str, list[str]], rng: random.Random, share: float) -> str:
    return "".join(rng.choice(mapping[c]) if c in mapping and rng.random() < share else c for c in text)


@pytest.mark.skipif(not MAPPINGS.exists(), reason=f"AugLy evasion mappings not found at {MAPPINGS}")
def test_augly_fun_fonts_normalise_to_the_clean_text():
    fonts = json.loads((MAPPINGS / "fun_fonts.json").read_text("utf-8"))
    sentences = (FLORES / "eng_Latn.devtest").read_text("utf-8").splitlines()[:50]
    same = total = 0
    for font in fonts.values():
        for sentence in sentences:
            # AugLy: a dict maps letters, a string is a combining mark put after each one.
            disguised = "".join(font.get(c, c) if isinstance(font, dict) else c + font for c in sentence)
            same += normalize(disguised).text == normalize(sentence).text
            total += 1
    # Most fancy-font alphabets are NFKC-compatible; the rest (upside-down etc.) are
    # reported in eval/results/text_normalize.md.
    assert same / total > 0.5


def _same_word_share(pairs, key) -> float:
    same = total = 0
    for clean, disguised in pairs:
        a, b = key(clean).split(), key(disguised).split()
        if len(a) == len(b):
            same += sum(x == y for x, y in zip(a, b))
        total += len(a)
    return same / total


@pytest.mark.skipif(not MAPPINGS.exists(), reason=f"AugLy evasion mappings not found at {MAPPINGS}")
def test_augly_homoglyphs_in_english_mostly_fold():
    mapping = json.loads((MAPPINGS / "letter_unicode_mapping.json").read_text("utf-8"))
    mapping = {k: v for k, v in mapping.items() if len(k) == 1}
    rng = random.Random(7)
    sentences = (FLORES / "eng_Latn.devtest").read_text("utf-8").splitlines()[:200]
    pairs = [(s, _disguise(s, mapping, rng, 0.1)) for s in sentences]
    raw = _same_word_share(pairs, str.casefold)
    normalised = _same_word_share(pairs, lambda t: normalize(t).text)
    keyed = _same_word_share(pairs, lambda t: skeleton(normalize(t).text))
    assert raw < normalised < keyed
    assert keyed > 0.75


@pytest.mark.skipif(not MAPPINGS.exists(), reason=f"AugLy evasion mappings not found at {MAPPINGS}")
def test_eval_script_smoke(tmp_path):
    # eval/text_normalize.py on 5 sentences per language: it runs and writes the table.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "text_normalize.md"
    subprocess.run([sys.executable, str(root / "eval" / "text_normalize.py"), "--lines", "5", "--harm-lines", "5",
                    "--out", str(out)], check=True, capture_output=True, timeout=600)
    report = out.read_text("utf-8")
    assert "| rus_Cyrl | insert_zero_width_chars | 0.0 | 100.0 | 100.0 | 100.0 | 1.000 |" in report
    assert "| underline | 100.0 → 100.0 |" in report and "## No harm" in report


# -- Homoglyph disguises (AugLy replace_similar_unicode_chars) ------------------------------


def test_homoglyph_disguised_sentence_normalises_to_the_clean_one():
    clean = "The attack on the market was planned for months"
    # Symbols, Greek and Cyrillic letters and foreign accents inside English words.
    disguised = "The ₳ttαck on thе ḿarket waѕ plǻnned for møntħs"
    assert normalize(disguised).text == normalize(clean).text == clean.lower()
    uzbek = "Toshkentda oʻtgan yigʻilishda qaror qabul qilindi"
    assert normalize("Ţoshkеntda oʻtgαn yigʻilishdǻ qaror qabul qilindi").text == normalize(uzbek).text


def test_letter_like_symbols_fold_inside_words_only():
    assert normalize("₳ttack ₲ood ∪nity").text == "attack good unity"
    # Currency and maths in ordinary use stay: no letters around them, or one letter (°C, €5m).
    assert normalize("Price: 5 € or £10, 25 °C, x × y, 5€m").text == "price: 5 € or £10, 25 °c, x × y, 5€m"
    assert normalize("mail me at info@example.org, US$ 5").text == "mail me at info@example.org, us$ 5"


LEGIT = {
    "tuk": "türkmenistanyň paýtagty aşgabat şäherinde ýaşaýan žurnalistler ňetijeli işleýärler",
    "azj": "azərbaycan respublikasının paytaxtı bakı şəhəridir, göllər və ağaclar çoxdur",
    "tur": "türkiye'nin başkenti ankara'dır; öğrenciler ılık güneşte çalışıyor",
    "uzn": "oʻzbekiston poytaxti toshkent shahrida gʻalaba bayrami nishonlandi",
    "kaz": "қазақстан республикасы әлемдегі ең ірі құрлықтағы мемлекет, ғылым мен өнер үйі һәм ұлт",
    "tat": "татарстан җөмһүрияте башкаласы казан шәһәре",
    "kir": "кыргызстандын борбору бишкек шаары, өлкөнүн үй-бүлөлөрү",
    "rus": "москва — столица россии, ёлка и йогурт",
    "arb": "القاهرة عاصمة مصر",
    "vie": "người việt nam yêu tự do và hòa bình, đất nước tươi đẹp",
    "fra": "l'élève a déjà fêté noël à l'hôpital, où ça coûte cher",
    "deu": "über größere brücken fährt man in köln",
    "pol": "zażółć gęślą jaźń — łódź i kraków",
}
# Folds that normalize makes on both sides of every comparison: Arabic ta marbuta -> ha,
# German ß -> ss (NFKC case folding).  Azerbaijani ə (U+0259, in the IPA block) is kept:
# folding it to ǝ (U+01DD) cost 12 points of Tatoeba aze accuracy.
EARLIER_FOLDS = str.maketrans({"ة": "ه", "ß": "ss"})


@pytest.mark.parametrize("lang", sorted(LEGIT))
def test_legitimate_letters_are_kept(lang):
    assert normalize(LEGIT[lang]).text == LEGIT[lang].translate(EARLIER_FOLDS)
    # Also with homoglyph evidence elsewhere in the text, for letters it uses three
    # times or more (rarer accented letters in a text flagged as disguised fold;
    # Vietnamese, with many accented forms per vowel, loses them there: a known limit).
    if lang in ("tuk", "tur", "azj"):
        text = " ".join([LEGIT[lang]] * 3) + " ₳ttack ₲ood"
        assert normalize(text).text == " ".join([LEGIT[lang]] * 3).translate(EARLIER_FOLDS) + " attack good"


def test_own_alphabet_survives_in_a_disguised_text():
    # Two symbol swaps mark the text as disguised; Turkmen's own letters, which the
    # text uses three times or more, stay, while a lone foreign "ḿ" folds.
    text = "şäherde şäher şäherler ýaşaýjylary ýaşaýar ýaşaýyş, ₳ttack ₲ood ḿeýdan"
    assert normalize(text).text == "şäherde şäher şäherler ýaşaýjylary ýaşaýar ýaşaýyş, attack good meýdan"
    # Without such evidence nothing is folded, however odd the accents.
    assert normalize("ḿeýdan ǻnd ŗight").text == "ḿeýdan ǻnd ŗight"


def test_mixed_script_words_in_cyrillic_text_are_left_to_the_cyrillic_fold():
    # A Russian text disguised with Latin twins: words fold to Cyrillic, never to Latin.
    assert normalize("Это тeст для прoверки").text == "это тест для проверки"
    assert normalize("тoт от oт").text == normalize("тот от от").text


def test_offsets_map_back_through_homoglyph_folds():
    original = "Thе ₳ttαck at ḿidnight, ₲ood"
    n = normalize(original)
    assert n.text == "the attack at midnight, good"
    assert len(n.offsets) == len(n.text) + 1 and list(n.offsets) == sorted(n.offsets)
    for word, source in (("attack", "₳ttαck"), ("midnight", "ḿidnight"), ("good", "₲ood"), ("the", "Thе")):
        start = n.text.index(word)
        assert n.original[slice(*n.span(start, start + len(word)))] == source


@pytest.mark.skipif(not MAPPINGS.exists(), reason=f"AugLy evasion mappings not found at {MAPPINGS}")
def test_augly_homoglyphs_on_30_percent_of_letters_mostly_fold_back():
    # AugLy's own map on 30% of all letters (eval/text.py's recall test).  About a
    # quarter of its targets are purely visual picks no Unicode data links to the
    # letter ("爪" for m), so whole sentences rarely come back; words mostly do.
    mapping = json.loads((MAPPINGS / "letter_unicode_mapping.json").read_text("utf-8"))
    mapping = {k: v for k, v in mapping.items() if len(k) == 1}
    rng = random.Random(3)
    sentences = (FLORES / "uzn_Latn.devtest").read_text("utf-8").splitlines()[:100]
    pairs = [(s, _disguise(s.lower(), mapping, rng, 0.3)) for s in sentences]
    assert _same_word_share(pairs, lambda t: normalize(t).text) > 0.4  # 0.19 before the homoglyph folding
    # Uzbek Latin has no accented letters, so any left over is a disguise not undone:
    # an AugLy variant that happens to repeat in one sentence passes as the text's own.
    accented = [ch for _, d in pairs for ch in d if latin_base(unicodedata.normalize("NFC", ch.casefold()))]
    left = [ch for _, d in pairs for ch in normalize(d).text if latin_base(ch)]
    assert len(left) < 0.1 * len(accented)


@pytest.mark.skipif(not FLORES.exists(), reason=f"FLORES-200 devtest not found at {FLORES}")
@pytest.mark.parametrize("lang", ["tuk_Latn", "azj_Latn", "tur_Latn", "uzn_Latn", "crh_Latn", "kaz_Cyrl"])
def test_clean_flores_sentences_keep_their_latin_letters(lang):
    # The homoglyph pass alone on clean text: it may turn a stray Cyrillic letter
    # inside a Latin word into its Latin twin (FLORES crh has "Mudafaа"), which
    # the look-alike fold did already, but it never changes a Latin letter.
    from crossmatch.text.lookalikes import fold_disguised_latin

    for sentence in (FLORES / f"{lang}.devtest").read_text("utf-8").splitlines()[:300]:
        chars = list(unicodedata.normalize("NFC", sentence.casefold()))
        before = list(chars)
        fold_disguised_latin(chars)
        assert all(a == b or script_of(a) != "LATIN" for a, b in zip(before, chars)), sentence


def test_letters_of_living_orthographies_in_the_ipa_block_are_kept():
    assert normalize("Azərbaycan Respublikası").text == "azərbaycan respublikası"
    assert normalize("Ɛʋɛ gbe").text == "ɛʋɛ gbe"
    # true variant letters still fold: small capitals and Latin alpha
    assert normalize("sᴍᴀʟʟ ᴄᴀᴘs ɑ").text == "small caps a"


def test_outside_testers_disguise_normalises_to_the_clean_text():
    # Letter spacing ended by an emoji, Latin "a", "o", "c" inside Cyrillic words.
    disguised = "В Н И М А Н И Е 📢 Мэрия Кaзaни сooбщилa"
    # The emoji before a capital ends the heading, as a full stop would.
    assert normalize(disguised).text == normalize("Внимание 📢 Мэрия Казани сообщила").text == "внимание\nмэрия казани сообщила"


@pytest.mark.parametrize("spaced", ["В📢Н📢И📢М📢А📢Н📢И📢Е", "В . Н . И . М . А . Н . И . Е", "В❤️Н❤️И❤️М❤️А❤️Н❤️И❤️Е",
                                    "В-Н-И-М-А-Н-И-Е", "В\u200b Н И\u200d М А Н И Е", "В ✅ Н ✅ И ✅ М ✅ А ✅ Н ✅ И ✅ Е"])
def test_letter_spacing_is_rejoined_across_emoji_and_punctuation(spaced):
    # (An emoji between letters joins them; one before a capital after a word ends a sentence.)
    assert normalize(spaced + " всем").text == "внимание всем"


def test_punctuation_as_written_is_not_letter_spacing():
    # Abbreviations and lists of single letters keep their separators.
    assert normalize("около 400 г. н. э. и позже").text == "около 400 г. н. э. и позже"
    assert normalize("классы A, B, C, D и E").text == "классы a, b, c, d и e"


def test_capital_latin_twins_fold_as_written():
    # Upper-case "K", "H", "M", "T", "B" look like Cyrillic capitals although their lower case does not.
    assert normalize("Kазань: MЭPИЯ Hовости, B городе").text == "казань: мэрия новости, в городе"
    # ... but acronyms and codes keep their Latin letters.
    assert normalize("штамм H5N1, винтовка M16 и туберкулёз XDR-TB").text == "штамм h5n1, винтовка m16 и туберкулёз xdr-tb"


def test_mixed_script_word_folds_by_its_distinctive_letters():
    # Four Latin letters against three Cyrillic: "б", "щ", "л", "и" exist only in Cyrillic.
    assert normalize("Мэрия сooбщилa").text == "мэрия сообщила"
    # A Latin stem with a Cyrillic suffix is two real words, not a disguise.
    assert normalize("Кыргыз тилинде Brexitтин маанисин").text == "кыргыз тилинде brexitтин маанисин"


def test_every_invisible_and_format_class_is_removed():
    invisibles = ["\u200b", "\u200c", "\u200d", "\u2060", "\u2062", "\u2063", "\u2064", "\ufeff", "\u00ad", "\u180e",
                  "\u034f", "\u17b4", "\u3164", "\u200e", "\u061c", "\U000e0041", "\ufe0f", "\u115f", "\U0001d173"]
    for ch in invisibles:
        assert normalize(f"со{ch}общение те{ch}кст").text == "сообщение текст", repr(ch)


def test_turkic_letters_survive_cyrillic_twins_in_a_latin_text():
    # Cyrillic "а", "е", "о" inside Azerbaijani words are folded back; "ü", "ə", "ç" stay.
    disguised = "Universitetinin tibb еlmləri üzrə prоfessoru vә Kаnada diabet assosiasiyasının sədri"
    assert normalize(disguised).text == normalize(disguised.replace("е", "e").replace("о", "o").replace("а", "a")).text
    assert "üzrə" in normalize(disguised).text


def test_an_emoji_before_a_capital_ends_a_sentence():
    from crossmatch.text.segment import sentences

    post = normalize("Ребята, смотрите, что пишут 👇 Мэрия Казани сообщила о ремонте.")
    assert [c.text for c in sentences(post)] == ["ребята, смотрите, что пишут", "мэрия казани сообщила о ремонте."]
    # inside a sentence (a small letter follows) and in uncased scripts an emoji is only a gap
    assert normalize("это 👍 и то").text == "это и то"
    assert normalize("شوفوا 👇 اللغات").text == "شوفوا اللغات"
