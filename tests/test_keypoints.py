"""keypoints: local features find crops, rotations, mirrored and pasted copies through the engine's deep pass."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("cv2", reason="opencv-python-headless is in the 'media' extra")

from crossmatch.banks.schemas import BankSpec  # noqa: E402
from crossmatch.banks.service import ItemUpsert  # noqa: E402
from crossmatch.media.keypoints import Keypoints  # noqa: E402
from crossmatch.samples import make_poster, to_bytes  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content, InvalidSignal, Signal  # noqa: E402
from crossmatch.signals.keypoints import create  # noqa: E402


def textured(seed: int, size=(800, 600)) -> Image.Image:
    """A busy, distinctive picture: a poster with random strokes over it (rich in corners)."""
    img = make_poster(seed, size)
    rng = np.random.default_rng(seed)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rng.integers(0, size[0]), rng.integers(0, size[1])
        draw.line((x, y, x + rng.integers(-90, 90), y + rng.integers(-90, 90)),
                  fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(2, 7)))
    return img


@pytest.fixture
def kp():
    return create(Settings())


def test_value_round_trips_and_bad_values_are_refused(kp):
    signal = kp.hash_bank_extras(Content("a", "image", data=to_bytes(textured(1))))[0]
    decoded = Keypoints.decode(signal.value)
    assert 100 <= len(decoded) <= kp.cfg.bank_keypoints and signal.quality == 100
    assert len(signal.value) * 3 / 4 <= 16 * 1024, "bank memory stays under 16 KB per image"
    assert kp.validate(signal.value) == signal.value
    for bad in ("", "bm90IGtleXBvaW50cw==", signal.value[:-8], "%%%"):
        with pytest.raises(InvalidSignal):
            kp.validate(bad)


def _bank(ctx, images: dict[str, Image.Image]) -> None:
    ctx.banks.create_bank(BankSpec(name="posters", options={"ocr": False}))
    items = [ItemUpsert(name, ctx.engine.hash_for_bank(Content(name, "image", data=to_bytes(img))).signals)
             for name, img in images.items()]
    ctx.banks.upsert_items("posters", items)


def _keypoint_matches(ctx, img: Image.Image):
    result = ctx.engine.scan(Content("upload", "image", data=to_bytes(img)))
    return result, [m for m in result.matches if m.signal_type == "keypoints"]


def test_edits_that_pdq_misses_are_found_with_evidence(ctx):
    original = textured(7)
    _bank(ctx, {"p7": original, "p8": textured(8), "p9": textured(9)})
    w, h = original.size

    cropped_rotated = original.crop((int(0.3 * w), int(0.1 * h), w, h)).rotate(23, expand=True)
    result, found = _keypoint_matches(ctx, cropped_rotated)
    assert result.deep and [m.bank_item for m in found] == ["p7"]
    evidence = found[0].evidence
    assert evidence["inliers"] >= 12 and evidence["query_signal"].startswith("sha256:")
    assert abs(abs(evidence["transform"]["rotation"]) - 23) < 2 and not evidence["transform"]["mirrored"]
    x0, y0, x1, y1 = evidence["bank_box"]  # the part of the bank picture the upload shows
    assert 0.3 * w - 5 <= x0 < 0.4 * w and x1 > 0.9 * w and 0.1 * h - 5 <= y0 < 0.2 * h

    mirrored = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((0, 0, int(0.7 * w), h))
    _, found = _keypoint_matches(ctx, mirrored)
    assert [m.bank_item for m in found] == ["p7"] and found[0].evidence["transform"]["mirrored"]
    assert found[0].evidence["query_variant"] == "mirrored"

    page = Image.new("RGB", (1400, 1000), (240, 240, 240))  # picture-in-picture on an unrelated picture
    page.paste(textured(20, (1400, 1000)))
    page.paste(original.resize((420, 315)), (900, 600))
    _, found = _keypoint_matches(ctx, page)
    assert [m.bank_item for m in found] == ["p7"]
    qx0, qy0, qx1, qy1 = found[0].evidence["query_box"]
    assert abs(qx0 - 900) < 20 and abs(qy0 - 600) < 20 and abs(qx1 - 1320) < 20 and abs(qy1 - 915) < 20

    _, found = _keypoint_matches(ctx, textured(30))
    assert found == []  # an unrelated picture matches nothing


def test_flat_images_fall_back_to_pdq_with_a_note(ctx):
    _bank(ctx, {"p1": textured(1)})
    flat = Image.new("RGB", (640, 480), (90, 120, 150))
    result, found = _keypoint_matches(ctx, flat)
    kp_signals = [s for s in result.signals if s.type == "keypoints"]
    assert found == [] and kp_signals and "too flat" in kp_signals[0].meta["note"]
    assert any("keypoints quality" in w for w in result.warnings)
    bank = ctx.engine.hash_for_bank(Content("flat", "image", data=to_bytes(flat)))
    assert any("keypoints quality" in w for w in bank.warnings)


def test_huge_keypoint_counts_are_capped(kp):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (2000, 2000, 3), dtype=np.uint8))
    content = Content("noise", "image", data=to_bytes(noise, "PNG"))
    assert len(Keypoints.decode(kp.hash_bank_extras(content)[0].value)) == kp.cfg.bank_keypoints
    assert all(len(Keypoints.decode(s.value)) <= kp.cfg.query_keypoints for s in kp.hash_deep(content))


def test_fast_index_adds_removes_and_replaces(kp):
    signals = kp.examples()
    index = kp.fast_index()
    index.add([(1, signals[0]), (2, signals[1])])
    assert {h.signal_id for h in index.query(signals[0], 12)} == {1}
    index.remove([1])
    assert index.query(signals[0], 12) == [] and len(index) == 1
    index.add([(2, signals[0])])  # id 2 now holds another picture: its old keypoints are gone
    assert {h.signal_id for h in index.query(signals[0], 12)} == {2}
    assert index.query(signals[1], 12) == []
    brute = kp.brute_force_index()
    brute.add([(2, signals[0]), (3, signals[2])])
    assert {h.signal_id for h in brute.query(signals[0], 12)} == {2}


def test_bank_items_store_keypoints_but_queries_compute_them_only_deep(ctx):
    content = Content("p", "image", data=to_bytes(textured(3)))
    assert [s for s in ctx.engine.hash_for_bank(content).signals if s.type == "keypoints"]
    assert not [s for s in ctx.engine.hash(content).signals if s.type == "keypoints"]
    assert Signal("keypoints", "x").type == "keypoints"


def test_keypoints_are_exported_only_on_request(ctx):
    import io
    import json

    from crossmatch.exchange.export import export_bank

    _bank(ctx, {"p1": textured(1)})
    plain, opted = io.StringIO(), io.StringIO()
    export_bank(ctx, "posters", "jsonl", plain)
    export_bank(ctx, "posters", "jsonl", opted, include_keypoints=True)
    types = lambda out: {s["type"] for line in out.getvalue().splitlines() for s in json.loads(line)["signals"]}  # noqa: E731
    assert "pdq" in types(plain) and "keypoints" not in types(plain)
    assert "keypoints" in types(opted)
