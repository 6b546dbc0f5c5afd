"""The first PDQ signal of an image is the reference hash: within 2 bits of the C++ reference
(ThreatExchange's expected_pdq_hashes.csv) on every copied file, with the same quality."""

from __future__ import annotations

import csv

import pytest

from crossmatch.settings import Settings
from crossmatch.signals.base import Content
from crossmatch.signals.pdq import PdqType, hamming


def _reference_rows(evaldata):
    folder = evaldata / "threatexchange-pdq-vpdq-tmk"
    with open(folder / "expected_pdq_hashes.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["implementation"] == "cpp-reference"]
    return [(folder / r["local_file"], r) for r in rows if not r["local_file"].startswith("NOT_COPIED")]


def test_first_pdq_signal_equals_the_reference(evaldata):
    pdq = PdqType(Settings().image)  # default settings: what banks store, exports and /h/hash serve
    rows = _reference_rows(evaldata)
    assert len(rows) >= 20
    for path, row in rows:
        first = pdq.hash(Content(path.name, "image", data=path.read_bytes()))[0]
        assert first.meta["reference"] is True and first.meta["variant"] == "original"
        assert first.quality == int(row["quality"]), path
        distance = hamming(first.value, row["pdq_hex"])
        if first.quality >= 10:
            assert distance <= 2, f"{path.name}: {distance} bits from the reference"
        else:
            # Quality 3: a near-flat image whose bits are signs of near-zero coefficients, where JPEG
            # decoders disagree (Pillow and OpenCV both give 12 bits); upstream's tolerance is 16.
            assert distance <= 16, f"{path.name}: {distance} bits from the reference"


def test_extra_signals_name_their_variant_or_region(evaldata):
    path = evaldata / "threatexchange-pdq-vpdq-tmk" / "pytx-test-resources" / "letterboxed_sample-b.jpg"
    pdq = PdqType(Settings().image)
    content = Content(path.name, "image", data=path.read_bytes())
    signals = pdq.hash(content) + pdq.hash_deep(content) + pdq.hash_bank_extras(content)
    assert [s.meta.get("reference") for s in signals].count(True) == 1 and signals[0].meta["reference"]
    width, height = signals[0].meta["box"][2:]
    for signal in signals[1:]:
        assert signal.meta.get("variant") in ("trimmed", "region", "caption-removed") or signal.meta.get("query_only")
        x, y, w, h = signal.meta["box"]
        assert 0 <= x and 0 <= y and x + w <= width + 1 and y + h <= height + 1, signal.meta  # full-size pixels


def test_hash_json_marks_the_reference_hash(tmp_path, evaldata):
    import json

    from typer.testing import CliRunner

    from crossmatch.cli import app

    path = evaldata / "threatexchange-pdq-vpdq-tmk" / "pytx-test-resources" / "letterboxed_sample-b.jpg"
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "--workers", "1", "hash", str(path), "--json"],
                                catch_exceptions=False)
    pdq = [s for s in json.loads(result.stdout)["signals"] if s["type"] == "pdq"]
    assert pdq[0]["meta"]["reference"] is True and pdq[0]["meta"]["variant"] == "original"
    assert [s["meta"]["variant"] for s in pdq[1:]] == ["trimmed"]
    assert pdq[1]["value"] == "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"  # the bridge, unboxed


def test_region_matches_carry_the_query_signal_and_boxes(ctx):
    """The per-region allow rule needs, on every candidate, the query signal and the boxes on both sides."""
    from crossmatch.banks.schemas import BankSpec
    from crossmatch.banks.service import ItemUpsert
    import numpy as np
    from PIL import Image

    from crossmatch.samples import to_bytes

    rng = np.random.default_rng(21)  # a smooth random picture with grain: busy everywhere, like a photo
    smooth = np.asarray(Image.fromarray(rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)).resize((1200, 900), Image.Resampling.BICUBIC))
    original = Image.fromarray(np.clip(smooth + rng.normal(0, 10, (900, 1200, 1)), 0, 255).astype(np.uint8))
    ctx.banks.create_bank(BankSpec(name="b", options={"ocr": False}))
    ctx.banks.upsert_items("b", [ItemUpsert("p", ctx.engine.hash_for_bank(Content("p", "image", data=to_bytes(original))).signals)])
    upload = original.crop((300, 225, 900, 675))  # the centre half: the bank's "centre:50" region
    result = ctx.engine.scan(Content("u", "image", data=to_bytes(upload)), deep=False)
    pdq = [m for m in result.matches if m.signal_type == "pdq"]
    assert pdq, "the crop matches the bank picture's centre region"
    evidence = pdq[0].evidence
    assert evidence["query_signal"] in {s.value for s in result.signals}
    assert evidence["query_box"] == [0, 0, 600, 450]  # the whole upload, in its pixels
    assert evidence["bank_region"] == "centre:50"
    x0, y0, x1, y1 = evidence["bank_box"]  # the bank picture's centre, in its full-size pixels
    assert abs(x0 - 300) <= 2 and abs(y0 - 225) <= 2 and abs(x1 - 900) <= 2 and abs(y1 - 675) <= 2
