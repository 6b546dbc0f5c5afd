"""Hostile and odd text input: each case gives a clear result or a clear error, never a crash."""

from __future__ import annotations

import codecs

import pytest

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError
from crossmatch.signals.text_near import SKIPPED_KEY, create
from crossmatch.text.extract import analyse, decode_text, text_of
from crossmatch.text.langid import LanguageIdentifier


@pytest.fixture(scope="module")
def langid():
    return LanguageIdentifier()


@pytest.fixture(scope="module")
def near():
    return create(Settings())


def test_empty_text_has_no_signal_and_says_why(near, langid):
    content = Content(item="empty", kind="text", text="")
    analysis = analyse(content, langid, 1000)
    assert analysis.normalized.text == "" and analysis.chunks == () and analysis.language.lang is None
    assert near.hash(content) == [] and "empty" in content.derived[SKIPPED_KEY]["text_near"]


def test_ten_megabytes_are_refused_by_name_not_processed(near):
    huge = "слово " * (10 * 1024 * 1024 // 11)
    with pytest.raises(ContentError, match="big-post.*over the limit"):
        near.hash(Content(item="big-post", kind="text", text=huge))
    with pytest.raises(ContentError, match="big-file.*over the limit"):
        decode_text(huge.encode() + b"x" * 1024, "big-file")


def test_nul_bytes_and_invalid_utf8_are_errors_naming_the_item(near):
    with pytest.raises(ContentError, match="post-1: NUL byte at offset 3"):
        decode_text(b"abc\x00def", "post-1")
    with pytest.raises(ContentError, match="post-2: not valid UTF-8 at byte 2"):
        decode_text(b"ab\xff\xfe", "post-2")
    with pytest.raises(ContentError, match="post-3: text contains a NUL"):
        near.hash(Content(item="post-3", kind="text", text="hello\x00world and more"))
    with pytest.raises(ContentError, match="post-4: not valid UTF-8"):
        near.hash(Content(item="post-4", kind="text", data="привет".encode("cp1251")))
    assert decode_text(codecs.BOM_UTF8 + "привет".encode(), "bom") == "привет"


def test_right_to_left_override_cannot_hide_text(near):
    plain = "Встреча у главного входа в семь часов вечера"
    # Stored back to front inside RLO ... PDF, it displays as the plain text; so it must match.
    hidden = "\u202e" + plain[::-1] + "\u202c"
    a = near.hash(Content(item="a", kind="text", text=plain))[0]
    b = near.hash(Content(item="b", kind="text", text=hidden))[0]
    assert near.compare(a, b) == 1.0
    # An unclosed override with isolates and embeddings nested inside does not crash.
    messy = "\u202e\u2067" + plain + "\u202a\u202d x \u2069\u2069\u202c\u202c\u202c"
    assert near.hash(Content(item="c", kind="text", text=messy))


def test_unsupported_scripts_are_hashed_without_a_language_guess(near, langid):
    for item, text in [("cherokee", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏓᏁᎸᎢ ᏣᎳᎩ ᎠᏕᎶᏆᏍᏗ"), ("linear-b", "𐀀𐀁𐀂𐀃 𐀄𐀅𐀆𐀇 𐀈𐀉𐀊")]:
        content = Content(item=item, kind="text", text=text)
        (signal,) = near.hash(content)
        assert signal.meta["lang"] is None and signal.meta["script"] in {"Cher", "Linb"}
        assert near.compare(signal, signal) == 1.0


def test_emoji_only_text_keeps_emoji_as_features_and_has_no_signal(near, langid):
    content = Content(item="emoji", kind="text", text="🔥🔥🔥 👍🏽 🇷🇺")
    analysis = analyse(content, langid, 1000)
    assert analysis.normalized.text == "" and analysis.normalized.emoji == ("🔥", "🔥", "🔥", "👍🏽", "🇷🇺")
    assert near.hash(content) == [] and "too short" in content.derived[SKIPPED_KEY]["text_near"]


def test_media_without_ocr_text_has_no_text(near):
    image = Content(item="img", kind="image", data=b"\x89PNG", derived={"ocr": [{"text": "  "}, {"confidence": 3}]})
    assert text_of(image) is None and near.hash_deep(image) == []


def test_analysis_is_computed_once_per_content(langid):
    content = Content(item="x", kind="text", text="Один текст. Два предложения.")
    first = analyse(content, langid, 1000)
    assert analyse(content, langid, 1000) is first and len(first.chunks) == 2
