"""OCR extractor: reads text in generated posters, captions and burnt-in video subtitles."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crossmatch.media.fonts import caption_image, fonts_available, poster_image
from crossmatch.media.ocr import OcrExtractor, OcrUnavailable, check_langs, dedupe, ocr_image
from crossmatch.settings import OcrSettings, Settings
from crossmatch.signals.base import Content, ContentError

LANGS = "rus+eng"  # two packs keep the tests quick; the extractor's default reads six


def _ocr_ready() -> str | None:
    try:
        check_langs(LANGS)
    except OcrUnavailable as exc:
        return str(exc)
    return None if fonts_available("sans") else "no fonts (fonts-noto-core / fonts-dejavu-core)"


pytestmark = pytest.mark.skipif(_ocr_ready() is not None, reason=f"OCR unavailable: {_ocr_ready()}")

RUS = "Сегодня в городе открылась новая библиотека для детей и взрослых."
RUS2 = "Погода на выходных будет тёплой и солнечной."


def picture(seed: int = 0, size=(640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def settings(**ocr) -> Settings:
    return Settings(ocr=OcrSettings(langs=LANGS, **ocr))


def letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def similar(a: str, b: str) -> float:
    from difflib import SequenceMatcher

    return SequenceMatcher(None, letters(a), letters(b)).ratio()


def test_poster_text_read_with_box_and_confidence():
    img = poster_image(RUS, size=(800, 300))
    blocks = ocr_image(img, OcrSettings(langs=LANGS))
    assert similar(" ".join(b["text"] for b in blocks), RUS) > 0.95
    x, y, w, h = blocks[0]["box"]
    assert 0 <= x < 400 and 0 <= y < 300 and w > 300 and h > 20
    assert blocks[0]["confidence"] > 80 and blocks[0]["lang"] == LANGS and blocks[0]["frame_time"] is None


def test_light_caption_over_picture_is_read():
    img = caption_image(picture(1), RUS, size=26)
    blocks = ocr_image(img, OcrSettings(langs=LANGS))
    assert similar(" ".join(b["text"] for b in blocks), RUS) > 0.8
    # the caption sits in the lower third
    assert any(b["box"][1] > 480 * 0.55 for b in blocks)


def test_plain_picture_yields_no_text():
    assert ocr_image(picture(2), OcrSettings(langs=LANGS)) == []


def test_extractor_fills_derived_ocr_for_images_and_text_of_reads_it():
    content = Content("poster-1", "image", data=png(poster_image(RUS, size=(800, 300))))
    OcrExtractor(settings()).extract(content)
    entry = content.derived["ocr"][0]
    assert set(entry) == {"text", "lang", "box", "frame_time", "confidence"}
    from crossmatch.text.extract import text_of

    text, source = text_of(content)
    assert source == "ocr" and similar(text, RUS) > 0.95


def test_extractor_respects_disabled_flag_and_bad_images():
    content = Content("p", "image", data=png(poster_image(RUS)))
    OcrExtractor(settings(enabled=False)).extract(content)
    assert "ocr" not in content.derived
    with pytest.raises(ContentError, match="broken.png"):
        OcrExtractor(settings()).extract(Content("broken.png", "image", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 50))


def test_burnt_in_subtitles_read_once_with_frame_times():
    pytest.importorskip("av", reason="PyAV is in the 'video' extra")
    from test_video import encode

    first = np.asarray(caption_image(picture(3), RUS, size=24))
    second = np.asarray(caption_image(picture(3), RUS2, size=24))
    # 6 s at 5 fps: subtitle one for 4 s, subtitle two for 2 s.
    data = encode([first] * 20 + [second] * 10, fps=5)
    content = Content("clip-ru", "video", data=data)
    OcrExtractor(settings(video_every_s=1.0)).extract(content)
    blocks = content.derived["ocr"]
    texts = [b["text"] for b in blocks]
    assert len(blocks) == 2, texts
    assert similar(texts[0], RUS) > 0.8 and similar(texts[1], RUS2) > 0.8
    assert blocks[0]["frame_time"] == 0.0 and blocks[1]["frame_time"] == pytest.approx(4.0, abs=0.3)


def test_dedupe_keeps_first_reading_of_repeated_text():
    blocks = [{"text": "Привет мир", "frame_time": 0.0}, {"text": "привет, мир!", "frame_time": 1.0},
              {"text": "Другой текст", "frame_time": 2.0}]
    assert [b["frame_time"] for b in dedupe(blocks)] == [0.0, 2.0]


def test_missing_language_pack_is_named():
    with pytest.raises(OcrUnavailable, match="xyz"):
        check_langs("rus+xyz")
