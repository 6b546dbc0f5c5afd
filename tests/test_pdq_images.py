"""PDQ done well: dihedral matching, border trimming, quality, and hostile images."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from crossmatch.media.image import content_box
from crossmatch.samples import EDITS, make_poster, to_bytes
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError
from crossmatch.signals.pdq import PdqType, hamming, pdq_hash


@pytest.fixture
def pdq() -> PdqType:
    return PdqType(Settings().image)


def _signals(pdq: PdqType, img: Image.Image, fmt: str = "JPEG"):
    return pdq.hash(Content("x", "image", data=to_bytes(img, fmt)))


def _best(pdq, bank_img, query_img) -> tuple[int, str]:
    bank = [s for s in _signals(pdq, bank_img) if not s.meta.get("query_only")]
    query = _signals(pdq, query_img)
    return min((hamming(b.value, q.value), q.meta["variant"]) for b in bank for q in query)


def test_hash_matches_python_threatexchange_format(pdq):
    img = make_poster(1)
    value, quality = pdq_hash(img)
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    ref_value, ref_quality = pdq_from_bytes(to_bytes(img, "PNG"))
    assert value == ref_value and quality == ref_quality


@pytest.mark.parametrize(
    "edit, variant",
    [
        (lambda i: i.rotate(90, expand=True), "rotated_90_counterclockwise"),
        (lambda i: i.rotate(-90, expand=True), "rotated_90_clockwise"),
        (lambda i: i.rotate(180), "rotated_180"),
        (EDITS["flipped"], "mirrored"),
        (lambda i: i.transpose(Image.Transpose.FLIP_TOP_BOTTOM), "flipped_upside_down"),
        (lambda i: i.transpose(Image.Transpose.TRANSPOSE), "transposed"),
        (lambda i: i.transpose(Image.Transpose.TRANSVERSE), "transversed"),
    ],
)
def test_dihedral_finds_flips_and_rotations_and_names_them(pdq, edit, variant):
    original = make_poster(1003)
    edited = edit(original)
    plain = hamming(_signals(pdq, original)[0].value, _signals(pdq, edited)[0].value)
    distance, found = _best(pdq, original, edited)
    assert plain > 31, "the plain hash should miss this edit, or the test proves nothing"
    assert distance <= 31 and found == variant


def test_dihedral_can_be_switched_off():
    settings = Settings()
    settings.image.dihedral = False
    signals = PdqType(settings.image).hash(Content("x", "image", data=to_bytes(make_poster(3))))
    assert signals[0].meta["variant"] == "original"
    assert not [s for s in signals if s.meta.get("query_only")]


def test_letterbox_is_trimmed(pdq):
    original = make_poster(11)
    boxed = EDITS["letterboxed"](original)
    signals = _signals(pdq, boxed)
    trimmed = [s for s in signals if s.meta.get("variant") == "trimmed"]
    assert trimmed, "a letterboxed image gets a border-trimmed hash"
    bank_value = _signals(pdq, original)[0].value
    trimmed_distance = hamming(trimmed[0].value, bank_value)
    assert trimmed_distance <= 16
    assert trimmed_distance < hamming(signals[0].value, bank_value)
    assert content_box(boxed)[1] > 0


def test_flat_image_is_low_quality_and_reported(pdq):
    flat = Image.new("RGB", (300, 300), (128, 128, 128))
    signals = _signals(pdq, flat, "PNG")
    assert signals[0].quality is not None and signals[0].quality < pdq.min_quality


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size: the shape of a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (to_bytes(make_poster(2))[:2000], "corrupt or truncated"),
        (b"%PDF-1.4 this is not an image", "not an image"),
        (_png_header_only(20_000, 20_000), "decompression bomb"),
    ],
    ids=["zero-byte", "truncated", "not-an-image", "20000x20000-png"],
)
def test_hostile_images_get_clear_errors(pdq, data, message):
    with pytest.raises(ContentError, match=message) as info:
        pdq.hash(Content("upload-42.jpg", "image", data=data))
    assert "upload-42.jpg" in str(info.value)


def test_low_quality_bank_hashes_never_match(ctx):
    from crossmatch.banks.schemas import BankSpec
    from crossmatch.banks.service import ItemUpsert
    from crossmatch.signals.base import Signal

    ctx.banks.create_bank(BankSpec(name="b"))
    ctx.banks.upsert_items("b", [ItemUpsert("flat", [Signal("pdq", "0" * 64, 0)]), ItemUpsert("good", [Signal("pdq", "f" * 64, 100)])])
    assert ctx.engine.lookup([Signal("pdq", "0" * 64)]) == []  # a hash-list query has no quality
    assert [m.bank_item for m in ctx.engine.lookup([Signal("pdq", "f" * 64)])] == ["good"]


def test_transparent_images_hash_like_python_threatexchange(tmp_path):
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    rgba = make_poster(9).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    data = to_bytes(rgba, "PNG")
    ours = PdqType(Settings().image).hash(Content("t.png", "image", data=data))[0].value
    assert hamming(ours, pdq_from_bytes(data)[0]) <= 2


def test_large_jpegs_decode_at_reduced_size():
    from crossmatch.media.image import open_image

    img = open_image(to_bytes(make_poster(4, (1155, 866))), "big.jpg", Settings().image, max_side=512)
    assert max(img.size) < 1155  # libjpeg scaled the decode; not the full frame
