"""The allow rule: an allow match suppresses only the block matches it covers (issue 10, issue 15 #2)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from crossmatch.allow import Footprint, apply_allow, footprint
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.engine import Match
from crossmatch.samples import to_bytes
from crossmatch.signals.base import Content, Signal


def _match(kind: str, item: str, signal_type: str, evidence: dict) -> Match:
    return Match(bank=f"{kind}-bank", bank_kind=kind, bank_item=item, bank_item_id=hash(item) % 10_000,
                 item_labels={}, signal_type=signal_type, threshold=31, distance=5, evidence=evidence)


def _text_evidence(*spans: tuple[int, int]) -> dict:
    return {"aligned": [{"query_chunk": n, "query_start": a, "query_end": b} for n, (a, b) in enumerate(spans)]}


def test_a_footer_in_an_allow_bank_does_not_hide_the_known_text_it_is_appended_to():
    known = _match("block", "known-text", "text_xling", _text_evidence((0, 120), (121, 240)))
    footer = _match("allow", "channel-footer", "text_xling", _text_evidence((241, 300)))
    kept, suppressed = apply_allow([known, footer])
    assert [m.bank_item for m in kept] == ["known-text"] and suppressed == []


def test_known_text_quoted_in_an_allow_listed_article_and_posted_alone_stays_flagged():
    quote = _match("block", "known-text", "text_xling", {**_text_evidence((0, 120)), "bank_coverage": 1.0})
    article = _match("allow", "news-article", "text_xling", {**_text_evidence((0, 120)), "bank_coverage": 0.15})
    assert apply_allow([quote, article])[0] == [quote]
    whole_article = _match("allow", "news-article", "text_xling", {**_text_evidence((0, 120), (121, 900)), "bank_coverage": 0.95})
    assert apply_allow([quote, whole_article])[0] == []


def test_an_allow_match_over_the_same_passages_suppresses():
    block = _match("block", "known-text", "text_near", {"query_span": [10, 200]})
    allow = _match("allow", "the-news-article", "text_near", {"query_span": [0, 400]})
    kept, suppressed = apply_allow([block, allow])
    assert kept == [] and suppressed[0].suppressed_by == "allow-bank/the-news-article"


def test_an_allow_listed_picture_beside_a_known_poster_does_not_hide_the_poster():
    size = [1000, 500]
    poster = _match("block", "poster", "pdq", {"query_signal": "a" * 64, "query_meta": {"box": [500, 0, 500, 500], "image_size": size}})
    meme = _match("allow", "meme", "pdq", {"query_signal": "b" * 64, "query_meta": {"box": [0, 0, 500, 500], "image_size": size}})
    kept, _ = apply_allow([poster, meme])
    assert [m.bank_item for m in kept] == ["poster"]
    # Local-feature boxes (x0, y0, x1, y1) in the same frame follow the same rule.
    poster_kp = _match("block", "poster", "keypoints", {"query_box": [520, 10, 990, 490], "query_size": size})
    meme_kp = _match("allow", "meme", "keypoints", {"query_box": [0, 0, 480, 500], "query_size": size})
    assert apply_allow([poster_kp, meme_kp])[0] == [poster_kp]
    # A region whose frame is unknown covers only matches from the very same query signal.
    unsure = _match("allow", "meme", "pdq", {"query_signal": "c" * 64, "query_meta": {"box": [0, 0, 10, 10], "region": "window"}})
    assert apply_allow([poster, unsure])[0] == [poster]


def test_a_whole_upload_allow_match_covers_every_part_of_it():
    whole = _match("allow", "benign-image", "pdq", {"query_signal": "d" * 64, "query_meta": {"variant": "original"}})
    region = _match("block", "poster", "pdq", {"query_signal": "e" * 64, "query_meta": {"variant": "caption-removed", "box": [0, 80, 640, 400]}})
    ocr_text = _match("block", "known-text", "text_xling", _text_evidence((0, 50)))
    kept, suppressed = apply_allow([whole, region, ocr_text])
    assert kept == [] and {m.bank_item for m in suppressed} == {"poster", "known-text"}
    mirrored = Footprint(whole=True)
    assert footprint("pdq", {"query_meta": {"variant": "mirrored", "query_only": True}}) == mirrored
    assert footprint("sha256", {}) == mirrored


def test_footprints_of_video_time_ranges():
    clip = footprint("vpdq", {"query_ranges": [[10.0, 30.0]]})
    assert clip.covers(footprint("vpdq", {"query_ranges": [[12.0, 29.8]]}))
    assert not clip.covers(footprint("vpdq", {"query_ranges": [[25.0, 40.0]]}))


def photo(seed: int, size=(640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    grain = rng.normal(0, 10, smooth.shape[:2])[..., None]
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))


def meme_of(img: Image.Image) -> Image.Image:
    """The picture under a caption band (white, with dark strokes for words)."""
    out = Image.new("RGB", (img.width, img.height + 150), "white")
    out.paste(img, (0, 150))
    draw = ImageDraw.Draw(out)
    for i in range(3):
        draw.rectangle((60 + 170 * i, 50, 200 + 170 * i, 90), fill="black")
    return out


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_an_upload_allow_listed_as_a_whole_is_not_flagged_by_a_deep_pass_region(ctx):
    """Before: the cheap pass's allow match never met the deep pass's region match, so it was flagged."""
    pytest.importorskip("cv2")
    poster = photo(3)
    meme = meme_of(poster)
    engine = ctx.engine
    ctx.banks.create_bank(BankSpec(name="known"))
    ctx.banks.create_bank(BankSpec(name="benign", kind="allow"))
    ctx.banks.upsert_items("known", [ItemUpsert("poster", engine.hash_for_bank(Content("p", "image", data=to_bytes(poster))).signals)])
    # Without the allow item, the meme matches the poster (through the cheap or the deep pass).
    found = engine.scan(Content("upload", "image", data=_png(meme)), deep=True)
    assert {m.bank_item for m in found.matches} == {"poster"}, found.to_json()
    ctx.banks.upsert_items("benign", [ItemUpsert("meme", engine.hash_for_bank(Content("m", "image", data=_png(meme))).signals)])
    result = engine.scan(Content("upload", "image", data=_png(meme)), deep=True)
    assert result.matches == [], result.to_json()
    assert {m.suppressed_by for m in result.suppressed} == {"benign/meme"}
    # The poster itself is still caught: the allow item covers the meme, not the poster inside other uploads.
    # (the meme's bank-side crops hold the poster, but part of an allow item vouches for nothing).
    again = engine.scan(Content("again", "image", data=to_bytes(poster)))
    assert {m.bank_item for m in again.matches} == {"poster"} and again.suppressed == []
