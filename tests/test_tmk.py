"""TMK+PDQF (tmk_pdqf): the reference hash of ThreatExchange's sample videos, its scores and clusters,
the HASH_TMK string form, the two-level index, and list import -> scan -> export through the CLI."""

from __future__ import annotations

import base64
import csv
import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import EVALDATA

from crossmatch.cli import app
from crossmatch.settings import Settings, TmkSettings
from crossmatch.signals import tmk as tmk_module
from crossmatch.signals import tmk_features as tf
from crossmatch.signals.base import Content, ContentError, InvalidSignal, Signal
from crossmatch.signals.registry import canonical_type_name
from crossmatch.signals.tmk import TmkType, create

DATA = EVALDATA / "threatexchange-pdq-vpdq-tmk"
VIDEOS = DATA / "sample-videos"
ROOT = Path(__file__).resolve().parents[1]
needs_videos = pytest.mark.skipif(not (VIDEOS / "doorknob-hd-no-bar.mp4").exists(), reason="evaldata not on this machine")
needs_tmkpy = pytest.mark.skipif(not tmk_module.tmkpy_available(), reason="tmkpy is in the 'tmk' extra")


def _eval_module():
    spec = importlib.util.spec_from_file_location("eval_tmk", ROOT / "eval" / "tmk.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tmk() -> TmkType:
    return create(Settings())


@pytest.fixture(scope="session")
def hashed(tmk) -> dict[str, Signal]:
    """Every sample video of the reference table, hashed once per session (~20 s)."""
    if not tmk_module.tmkpy_available() or not VIDEOS.exists():
        pytest.skip("needs tmkpy (extra 'tmk') and the evaldata sample videos")
    names = sorted(p.stem for p in VIDEOS.glob("*.mp4") if p.stem != "test-padded-dimensions")
    return {n: tmk.hash(Content(n, "video", path=VIDEOS / f"{n}.mp4"))[0] for n in names}


# -- the value: ThreatExchange's HASH_TMK string, strictly checked ---------------------------------

def test_value_round_trips_the_tmk_byte_layout(tmk):
    value = tmk.examples()[0].value
    assert value.startswith("TMK1FVECPDQF|")
    data = tf.decode_value(value)
    assert len(data) == tf.FILE_BYTES == 263_344  # the reference .tmk size (SOURCE.md: 15 x 263 KB)
    assert struct.unpack_from("<4s4s4siiiii", data) == (b"TMK1", b"FVEC", b"PDQF", 15, 4, 32, 256, 150)
    assert tf.encode_value(data) == value and tmk.validate(value) == value
    # The whole file base64-encoded (as some exports carry it) is accepted and made canonical.
    assert tmk.validate(base64.b64encode(data).decode()) == value
    # Line-wrapped base64 in a spreadsheet cell too.
    assert tmk.validate(value[:5000] + "\n" + value[5000:]) == value


@pytest.mark.parametrize("mangle, reason", [
    (lambda v, d: "", "empty"),
    (lambda v, d: "f" * 64, "start with 'TMK1FVECPDQF|'"),
    (lambda v, d: v[:-4000], "truncated"),
    (lambda v, d: v + "!!", "not valid base64"),
    (lambda v, d: tf.encode_value(d[:8] + b"XXXX" + d[12:]), "frame algorithm"),
    (lambda v, d: tf.encode_value(d[:12] + struct.pack("<i", 30) + d[16:]), "fps=30"),
    (lambda v, d: tf.encode_value(d[:32] + struct.pack("<i", 1) + d[36:]), "periods are"),
    (lambda v, d: tf.encode_value(d[:28] + struct.pack("<i", 0) + d[32:]), "empty video"),
    (lambda v, d: tf.encode_value(d[:200] + struct.pack("<f", float("nan")) + d[204:]), "NaN"),
    (lambda v, d: tf.encode_value(d[:176] + bytes(1024) + d[1200:]), "all zeros"),
])
def test_bad_values_are_refused_with_the_reason(tmk, mangle, reason):
    value = tmk.examples()[0].value
    with pytest.raises(InvalidSignal, match=reason.replace("(", r"\(")):
        tmk.validate(mangle(value, tf.decode_value(value)))


def test_list_names_map_to_the_type():
    for name in ("tmk", "TMK+PDQF", "video_tmk_pdqf", "HASH_TMK", "tmk_pdqf", "VideoTMK"):
        assert canonical_type_name(name) == "tmk_pdqf"
    assert canonical_type_name(" PDQ ") == "pdq"


# -- scores and the index ----------------------------------------------------------------------------

def test_fast_index_and_two_level_match_equal_brute_force():
    examples = create(Settings()).examples()
    table = {i: ("item", s) for i, s in enumerate(examples, 1)}
    for c1, c2 in ((0.7, 0.7), (0.0, 0.0), (0.96, 0.9), (0.95, 0.96)):
        tmk = TmkType(Settings().video, TmkSettings(level1_threshold=c1, level2_threshold=c2))
        brute, fast = tmk.brute_force_index(), tmk.fast_index()
        brute.add(table_entries := [(i, s) for i, (_, s) in table.items()])
        fast.add(table_entries)
        for query in examples:
            want = {h.signal_id: round(h.score, 5) for h in brute.query(query, c1)}
            assert {h.signal_id: round(h.score, 5) for h in fast.query(query, c1)} == want
            lookup = lambda ids: {i: table[i] for i in ids}  # noqa: E731
            matched = {c.signal_ids: round(c.score, 5) for c in tmk.match([query], fast, c2, lookup)}
            assert matched == {c.signal_ids: round(c.score, 5) for c in tmk.match([query], brute, c2, lookup)}
            for (sid,), score in matched.items():  # both levels decided, and the scores say so
                one, two = tmk.scores(query, table[sid][1])
                assert one >= c1 and two == pytest.approx(score, abs=1e-5) and two >= c2 - 1e-5
    # The noisy copy (third example) matches the first at the defaults; the second matches neither.
    tmk = create(Settings())
    assert tmk.scores(examples[0], examples[2])[1] >= 0.7 and tmk.scores(examples[0], examples[1])[1] is None
    fast = tmk.fast_index()
    fast.add([(1, examples[0]), (2, examples[1])])
    found = tmk.match([examples[2]], fast, 0.7, lambda ids: {i: table[i] for i in ids})
    assert [c.signal_ids for c in found] == [(1,)]
    assert set(found[0].evidence) >= {"level1", "level2", "level1_threshold"}


def test_missing_tmkpy_names_what_to_install(tmk, monkeypatch):
    monkeypatch.setattr(tmk_module, "tmkpy_available", lambda: False)
    with pytest.raises(ContentError, match=r"pip install 'crossmatch\[tmk\]'"):
        tmk.hash(Content("clip.mp4", "video", data=b"\x00" * 100))
    # Bank videos skip TMK without tmkpy; a query the banks need TMK for fails closed, naming the extra.
    from crossmatch.hashing import wants

    assert not wants(tmk, None) and wants(tmk, {"tmk_pdqf"}) and not wants(tmk, set())


@needs_tmkpy
@needs_videos
def test_a_video_hashes_to_a_valid_value(tmk):
    signal = tmk.hash(Content("doorknob", "video", path=VIDEOS / "doorknob-hd-no-bar.mp4"))[0]
    assert signal.type == "tmk_pdqf" and signal.meta == {"frames": 62, "duration": 4.133}
    assert tmk.validate(signal.value) == signal.value
    assert tmk.compare(signal, signal) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ContentError, match="not a video container|no video stream|not a readable"):
        tmk.hash(Content("notes.mp4", "video", data=b"just some text, not a video\n" * 50))


@pytest.mark.slow
def test_sample_videos_reproduce_the_reference_pair_scores(hashed):
    ev = _eval_module()
    ours = ev.pair_scores(create(Settings()), hashed)
    reference = {p: s for p, s in ev.reference_pairs(DATA / "tmk-README.upstream.md").items() if p in ours}
    assert len(reference) >= 15  # the README's table has 20 pairs of videos present here
    for pair, (one, two) in reference.items():
        assert ours[pair][0] == pytest.approx(one, abs=1e-4), pair
        assert ours[pair][1] == pytest.approx(two, abs=1e-4), pair


@pytest.mark.slow
def test_sample_videos_cluster_as_upstream_at_0_7(hashed):
    ev = _eval_module()
    names = sorted(hashed)
    ours = ev.pair_scores(create(Settings()), hashed)
    got = [sorted(c) for c in ev.clusters(names, ours, 0.7, 0.7)]
    chair = sorted(n for n in names if n.startswith("chair") and "large-logo" not in n)
    pattern = sorted(n for n in names if n.startswith("pattern") and "large-logo" not in n)
    assert chair in got and pattern in got and ["doorknob-hd-no-bar"] in got
    assert ["chair-22-with-large-logo-bar"] in got and ["pattern-sd-with-large-logo-bar"] in got
    reference = ev.reference_clusters(DATA / "tmk-README.upstream.md")
    for threshold in (0.7, 0.95):
        want = [sorted(c) for c in ev.restrict(reference[threshold], set(names))]
        assert [sorted(c) for c in ev.clusters(names, ours, threshold, threshold)] == want


# -- through the CLI: a TCAP/GIFCT-style list in, a re-encoded variant found, the list out -----------

runner = CliRunner()


def _run(home: Path, *args: str) -> list[dict]:
    result = runner.invoke(app, ["--home", str(home), "--workers", "1", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
@needs_tmkpy
@needs_videos
def test_imported_tmk_list_finds_a_variant_and_not_doorknob(tmp_path, hashed, monkeypatch):
    home = tmp_path / "home"
    original = hashed["chair-orig-22-sd-bar"].value
    listing = tmp_path / "gifct.csv"
    with listing.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["signal_type", "signal", "id", "entity"])
        writer.writerow(["video_tmk_pdqf", original, "gifct-1", "Group V"])
        writer.writerow(["HASH_TMK", original[:-3000], "gifct-2", "Group W"])  # truncated in transit
    _run(home, "bank", "create", "videos")
    records = _run(home, "bank", "import", "videos", str(listing), "--json")
    assert records[-1]["added"] == 1 and records[-1]["errors"] == 1
    assert any(":3" in r["item"] and "truncated" in r["error"] for r in records if "error" in r)

    scanned = _run(home, "scan", str(VIDEOS / "chair-22-sd-grey-bar.mp4"), str(VIDEOS / "doorknob-hd-no-bar.mp4"),
                   "--signals", "--json")
    by_item = {Path(r["item"]).name: r for r in scanned if "item" in r}
    grey, door = by_item["chair-22-sd-grey-bar.mp4"], by_item["doorknob-hd-no-bar.mp4"]
    assert not grey.get("error") and not door.get("error")
    match = next(m for m in grey["matches"] if m["signal_type"] == "tmk_pdqf")
    assert match["bank_item"] == "gifct-1" and match["threshold"] == 0.7
    assert match["evidence"]["level1"] >= 0.99 and match["evidence"]["level2"] >= 0.99
    assert match["evidence"]["level1_threshold"] == 0.7
    assert door["matches"] == []
    assert any(s["type"] == "tmk_pdqf" for s in door["signals"])  # computed: the bank holds TMK signals

    te = tmp_path / "out.te.jsonl"
    _run(home, "exchange", "export", "videos", "--format", "te", "--output", str(te))
    rows = [json.loads(line) for line in te.read_text().splitlines()]
    assert [(r["type"], r["indicator"]) for r in rows] == [("HASH_TMK", original)]
    exported = tmp_path / "out.csv"
    _run(home, "exchange", "export", "videos", "--format", "csv", "--output", str(exported))
    csv_rows = list(csv.DictReader(exported.open(newline="")))  # allow_long_csv_cells ran in this process
    assert [(r["signal_type"], r["signal"], r["id"]) for r in csv_rows] == [("tmk_pdqf", original, "gifct-1")]

    # Without tmkpy, a video scanned while a bank holds TMK is not "clean": it says what to install.
    monkeypatch.setattr(tmk_module, "tmkpy_available", lambda: False)
    record = next(r for r in _run(home, "scan", str(VIDEOS / "doorknob-hd-no-bar.mp4"), "--json") if "item" in r)
    assert "crossmatch[tmk]" in record["error"] and record["matches"] == []


@needs_tmkpy
@needs_videos
def test_scans_skip_tmk_while_no_bank_holds_it(tmp_path):
    home = tmp_path / "home"
    _run(home, "bank", "create", "videos")
    scanned = _run(home, "scan", str(VIDEOS / "doorknob-hd-no-bar.mp4"), "--signals", "--json")
    record = next(r for r in scanned if "item" in r)
    assert record["error"] is None or not record["error"]
    types = {s["type"] for s in record["signals"]}
    assert "vpdq" in types and "tmk_pdqf" not in types


def test_eval_parses_the_reference_readme():
    if not (DATA / "tmk-README.upstream.md").exists():
        pytest.skip("evaldata not on this machine")
    ev = _eval_module()
    pairs = ev.reference_pairs(DATA / "tmk-README.upstream.md")
    assert pairs[("chair-22-sd-grey-bar", "chair-orig-22-sd-bar")] == (0.999963, 0.999964)
    clusters = ev.reference_clusters(DATA / "tmk-README.upstream.md")
    assert sorted(clusters) == [0.7, 0.95] and len(clusters[0.7]) == 5 and len(clusters[0.95]) == 9
    assert np.isclose(pairs[("doorknob-hd-no-bar", "pattern-sd-with-large-logo-bar")][0], -0.310042)


@pytest.mark.slow
@needs_tmkpy
@needs_videos
def test_http_upload_of_a_variant_matches_a_tmk_bank_item(hashed, tmp_path):
    from test_api_support import running_api

    with running_api(tmp_path / "home", "sqlite") as api:
        c, cur, mat = api.client, api.h("curator"), api.h("matcher")
        c.post("/api/v1/banks", json={"name": "gifct"}, headers=cur)
        item = {"id": "v1", "signals": [{"type": "tmk_pdqf", "value": hashed["pattern-hd-no-bar"].value}]}
        assert c.put("/api/v1/banks/gifct/items", headers=cur, json={"items": [item]}).status_code == 200
        for name, expected in (("pattern-sd-grey-bar", ["v1"]), ("doorknob-hd-no-bar", [])):
            data = (VIDEOS / f"{name}.mp4").read_bytes()
            result = c.post("/api/v1/lookup", files={"file": (f"{name}.mp4", data, "video/mp4")}, headers=mat).json()
            assert not result.get("error"), result
            found = [m for m in result["matches"] if m["signal_type"] == "tmk_pdqf"]
            assert [m["bank_item"] for m in found] == expected
            if found:
                assert found[0]["evidence"]["level1"] >= 0.7 and found[0]["evidence"]["level2"] >= 0.7


def test_threatexchange_and_tcap_tmk_rows_sync_into_a_bank(ctx, monkeypatch):
    """HASH_TMK descriptors (ThreatExchange) and algorithm TMK entries (TCAP) through the loopback fakes."""
    from fake_sources import FakeExchangeServer, tcap_entry, te_record

    from crossmatch.banks.schemas import BankSpec
    from crossmatch.exchange.service import ExchangeService

    good, other = create(Settings()).examples()[0].value, create(Settings()).examples()[1].value
    monkeypatch.setenv("CM_TEST_TX_TOKEN", "1234567890|abcdefghijklmnopqrstuvwxyz0123")
    monkeypatch.setenv("CM_TEST_TCAP_CREDS", "analyst:secret")
    with FakeExchangeServer(page_size=3) as server:
        server.te_updates = [te_record(1, good, kind="HASH_TMK", updated=1001),
                             te_record(2, good[:-5000], kind="HASH_TMK", updated=1002)]  # truncated upstream
        server.tcap_entries = [tcap_entry(1, other, "TMK", updated=1704085200.0, group="Example Entity A", file_type="mp4")]
        for bank in ("te", "tcap"):
            ctx.banks.create_bank(BankSpec(name=bank))
        service = ExchangeService(ctx)
        service.add("gifct", "pytx", "te", {"api": "fb_threatexchange", "collab": {"privacy_group": 42},
                                           "base_url": server.url, "credentials_env": "CM_TEST_TX_TOKEN"})
        service.add("tcap", "pytx", "tcap", {"api": "tat", "base_url": server.url, "credentials_env": "CM_TEST_TCAP_CREDS"})
        te_report, tcap_report = service.sync("gifct"), service.sync("tcap")
    assert te_report.complete and te_report.added == 1
    assert any("truncated" in e.error for e in te_report.errors)
    assert tcap_report.complete and tcap_report.added == 1
    for bank, value in (("te", good), ("tcap", other)):
        [item] = ctx.banks.list_items(bank, limit=10)
        assert item.external_id.startswith(("HASH_TMK:sha256:", "tmk_pdqf:sha256:")) and len(item.external_id) < 100
        _, signals = ctx.banks.get_item(bank, item.external_id)
        assert [(s.type, s.value) for s in signals] == [("tmk_pdqf", value)]


def test_lookup_by_value_takes_a_list_name_for_the_type(tmp_path):
    home = tmp_path / "home"
    value = create(Settings()).examples()[0].value
    listing = tmp_path / "list.csv"
    listing.write_text(f"signal_type,signal,id\nTMK+PDQF,{value},v1\n")
    _run(home, "bank", "create", "videos")
    assert _run(home, "bank", "import", "videos", str(listing), "--json")[-1]["added"] == 1
    noisy = create(Settings()).examples()[2].value  # a noisy copy of the same synthetic video
    found = _run(home, "lookup", "HASH_TMK", noisy, "--json")[0]
    assert found["signal_type"] == "tmk_pdqf" and [m["bank_item"] for m in found["matches"]] == ["v1"]
    other = create(Settings()).examples()[1].value
    assert _run(home, "lookup", "tmk", other, "--json")[0]["matches"] == []
