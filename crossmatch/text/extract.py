"""One text analysis per piece of content, shared by every text signal type.

``analyse`` normalises, identifies the language and segments once, and caches
the result in ``content.derived["text_analysis"]`` so ``text_near`` and
``text_xling`` do not repeat the work.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from crossmatch.signals.base import Content, ContentError
from crossmatch.text.langid import LanguageGuess, LanguageIdentifier
from crossmatch.text.normalize import NormalizedText, normalize
from crossmatch.text.segment import Chunk, sentences

CACHE_KEY = "text_analysis"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class TextAnalysis:
    normalized: NormalizedText
    language: LanguageGuess
    chunks: tuple[Chunk, ...]
    source: str  # 'text' or 'ocr'


def decode_text(data: bytes, item: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Strict UTF-8 (a leading BOM is dropped).

    Raises :class:`ContentError` naming ``item`` for over-size input, invalid
    UTF-8 and NUL bytes.  NUL bytes are refused rather than stripped: text
    never contains them, so they mean a binary file was sent as text.
    """
    if len(data) > max_bytes:
        raise ContentError(f"{item}: text is {len(data)} bytes, over the limit of {max_bytes}")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ContentError(f"{item}: NUL byte at offset {nul}; this looks like binary data, not text")
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ContentError(f"{item}: not valid UTF-8 at byte {exc.start} ({exc.reason})") from None


def text_of(content: Content) -> tuple[str, str] | None:
    """(text, source) of ``content``: its own text, else its OCR text, else None."""
    if content.text is not None:
        return content.text, "text"
    if content.kind == "text" and content.data is not None:
        return decode_text(content.data, content.item), "text"
    ocr = content.derived.get("ocr")
    if ocr:
        lines = [str(block.get("text", "")).strip() for block in ocr if isinstance(block, dict)]
        # OCR line breaks follow the image layout, not sentences: join with spaces.
        joined = " ".join(line for line in lines if line)
        if joined:
            return joined, "ocr"
    return None


def analyse(content: Content, langid: LanguageIdentifier, max_chars: int) -> TextAnalysis | None:
    """Normalised text, language and sentences of ``content`` (None if it has no text).

    Text longer than ``max_chars`` is refused with :class:`ContentError` naming
    the item, so memory stays bounded.
    """
    cached = content.derived.get(CACHE_KEY)
    if isinstance(cached, TextAnalysis):
        return cached  # content is transient: its text does not change between signal types
    found = text_of(content)
    if found is None:
        return None  # not cached: OCR may add text before the deep pass
    text, source = found
    if len(text) > max_chars:
        raise ContentError(f"{content.item}: text has {len(text)} characters, over the limit of {max_chars}")
    if "\x00" in text:
        raise ContentError(f"{content.item}: text contains a NUL character; this looks like binary data")
    norm = normalize(text)
    analysis = TextAnalysis(norm, langid.detect(norm.text), tuple(sentences(norm)), source)
    content.derived[CACHE_KEY] = analysis
    return analysis
