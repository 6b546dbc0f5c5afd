"""Turkmen is respelt in Turkish orthography for the embedder only; evidence keeps the text as written."""

from __future__ import annotations

from crossmatch.text.respell import embedding_text


def test_turkmen_letters_become_their_turkish_spelling():
    assert embedding_text("ýyl dowamynda şäherde", "tk") == "yıl dovamında şeherde"
    assert embedding_text("ýyl dowamynda", "az") == "ýyl dowamynda"  # other languages are read as written
    assert embedding_text("ýyl", None) == "ýyl"
