"""Region hashes find pictures under hard edits (crop, screenshot, meme band, sticker overlay)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("cv2", reason="opencv-python-headless is in the 'media' extra")

from crossmatch.media.regions import bank_regions, candidate_regions  # noqa: E402
from crossmatch.settings import RegionSettings, Settings  # noqa: E402
from crossmatch.signals.pdq import hamming, pdq_hash  # noqa: E402

AUGLY = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "augly-image-test-assets"


def photo(seed: int, size=(640, 480)) -> Image.Image:
    """A smooth random picture: distinctive to PDQ, busy everywhere like a photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    grain = rng.normal(0, 10, smooth.shape[:2])[..., None]  # camera grain: photos are never flat
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))


def hashes(img: Image.Image, regions) -> list[tuple[str, str]]:
    out = []
    for reason, part in [("whole", img)] + [(r.reason, r.image) for r in regions]:
        value, quality = pdq_hash(part)
        if quality >= 50:
            out.append((reason, value))
    return out


def best(query: Image.Image, bank: Image.Image) -> tuple[int, str, str]:
    settings = Settings()
    q = hashes(query, candidate_regions(query, settings))
    b = hashes(bank, bank_regions(bank, settings))
    return min((hamming(qv, bv), qr, br) for qr, qv in q for br, bv in b)


def meme(img: Image.Image) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 150), "white")
    out.paste(img, (0, 150))
    draw = ImageDraw.Draw(out)
    for i in range(3):  # caption "text": dark strokes on the white band
        draw.rectangle((60 + 170 * i, 50, 200 + 170 * i, 90), fill="black")
    return out


def screenshot(img: Image.Image) -> Image.Image:
    page = Image.new("RGB", (1200, 1000), (245, 246, 248))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 1200, 70), fill=(59, 89, 152))  # app bar
    for y in range(120, 230, 30):  # post text lines
        draw.rectangle((300, y, 300 + (y * 7) % 400 + 200, y + 12), fill=(40, 40, 40))
    pic = img.resize((560, 420))
    page.paste(Image.new("RGB", (600, 420), "black"), (280, 260))  # letterboxed inside the post
    page.paste(pic, (300, 260))
    return page


def sticker(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    draw.ellipse((200, 280, 440, 475), fill=(250, 200, 0))
    draw.ellipse((260, 330, 300, 370), fill=(30, 30, 30))
    draw.ellipse((340, 330, 380, 370), fill=(30, 30, 30))
    return out


def centre_crop(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))


@pytest.mark.parametrize("edit,expected", [(meme, "embedded"), (screenshot, "embedded"),
                                           (sticker, "grid:"), (centre_crop, "whole")])
def test_hard_edit_found_by_a_region_that_plain_pdq_misses(edit, expected):
    original = photo(7)
    edited = edit(original)
    plain = hamming(pdq_hash(edited)[0], pdq_hash(original)[0])
    distance, query_reason, bank_reason = best(edited, original)
    assert plain > 31, "the edit should defeat whole-image PDQ, or the test proves nothing"
    assert distance <= 31 and query_reason.startswith(expected)
    if edit is centre_crop:
        assert bank_reason == "centre:50"


def test_unrelated_pictures_do_not_match_through_regions():
    pictures = [photo(seed) for seed in range(6)] + [screenshot(photo(10)), meme(photo(11))]
    for i, a in enumerate(pictures):
        for j, b in enumerate(pictures):
            if i != j and not ({i, j} <= {6, 7}):
                assert best(a, b)[0] > 31, (i, j)


def test_regions_are_bounded_and_can_be_disabled():
    img = screenshot(photo(3))
    regions = candidate_regions(img, Settings())
    assert 1 <= len(regions) <= Settings().regions.max_regions
    assert all(r.image.size == (r.box[2], r.box[3]) for r in regions)
    assert len(candidate_regions(img, RegionSettings(max_regions=2))) == 2
    assert candidate_regions(img, RegionSettings(enabled=False)) == []
    assert bank_regions(Image.new("RGB", (20, 20)), Settings()) == []


@pytest.mark.skipif(not AUGLY.exists(), reason="needs ../shared/evaldata/augly-image-test-assets")
def test_augly_hard_four_found_at_pdq_decode_size():
    from crossmatch.media.image import downscale, open_image

    settings = Settings()

    def load(path: Path) -> Image.Image:
        return downscale(open_image(path.read_bytes(), path.name, settings.image, max_side=512), 512)

    original = load(AUGLY / "dfdc_1.jpg")
    for name in ("crop", "overlay_onto_screenshot", "meme_format", "overlay_emoji"):
        assert best(load(AUGLY / "expected_output" / f"test_{name}.png"), original)[0] <= 31, name


def test_region_signals_carry_reason_box_and_side():
    from crossmatch.media.regions import region_signals

    img = screenshot(photo(5))
    query = region_signals(img, Settings())
    assert query and all(s.type == "pdq" and s.quality >= 50 and s.meta["variant"] == "region" for s in query)
    assert query[0].meta["region"] == "embedded" and len(query[0].meta["box"]) == 4
    bank = region_signals(photo(5), Settings(), side="bank")
    assert {s.meta["region"] for s in bank} >= {"centre:50", "centre:70"}
    assert all(s.meta["bank_only"] for s in bank)
    assert all(not s.meta.get("bank_only") for s in query)
