"""vpdq and video_md5 signal types: hashing, clip-level matching with time ranges, reference conformance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("av", reason="PyAV is in the 'video' extra")

from test_video import make_video  # noqa: E402  (tests/ is on sys.path under pytest)

from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content, ContentError, Signal  # noqa: E402
from crossmatch.signals.registry import SignalRegistry  # noqa: E402
from crossmatch.signals.vpdq import create, hamming, time_ranges  # noqa: E402

EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "threatexchange-pdq-vpdq-tmk"


class Bank:
    """Signal ids -> (bank item, signal), as the store's lookup provides."""

    def __init__(self, vtype, fast: bool = False):
        self.vtype = vtype
        self.index = (vtype.fast_index() if fast else None) or vtype.brute_force_index()
        self.table: dict[int, tuple[str, Signal]] = {}

    def add(self, item: str, signals: list[Signal]) -> None:
        start = len(self.table) + 1
        entries = list(enumerate(signals, start))
        self.table.update({i: (item, s) for i, s in entries})
        self.index.add(entries)

    def lookup(self, ids):
        return {i: self.table[i] for i in ids}

    def match(self, signals):
        return {self.table[c.signal_ids[0]][0]: c for c in self.vtype.match(signals, self.index, 31, self.lookup)}


@pytest.fixture(scope="module")
def vtype():
    return create(Settings())


@pytest.fixture(scope="module")
def bank_video(vtype):
    return vtype.hash(Content("bank-30s", "video", data=make_video(30, seed=11)))


def test_signals_carry_frame_time_and_video_length(vtype, bank_video):
    assert all(s.type == "vpdq" and len(s.value) == 64 for s in bank_video)
    times = sorted(s.meta["time"] for s in bank_video)
    assert times[0] == 0.0 and 29 < times[-1] < 30
    assert len({s.meta["duration"] for s in bank_video}) == 1 and abs(bank_video[0].meta["duration"] - 30) < 0.2
    assert len({s.value for s in bank_video}) == len(bank_video)  # one signal per distinct frame hash


@pytest.mark.parametrize("fast", [False, True])
def test_excerpt_of_long_bank_video_found_with_time_ranges(vtype, bank_video, fast):
    bank = Bank(vtype, fast)
    bank.add("long", bank_video)
    bank.add("other", vtype.hash(Content("other", "video", data=make_video(12, seed=99))))
    # An 8 s excerpt from 12 s in, re-encoded greyscale with pillarbox bars.
    query = vtype.hash(Content("clip", "video", data=make_video(8, seed=11, start=12, grey=True, bars=30)))
    found = bank.match(query)
    assert set(found) == {"long"}
    ev = found["long"].evidence
    assert ev["query_coverage"] > 0.9
    assert 0.2 < ev["bank_coverage"] < 0.35
    assert ev["offset_s"] == pytest.approx(12.0, abs=0.2)
    (q_start, q_end), = ev["query_ranges"]
    assert q_start < 0.5 and q_end > 7.5
    (b_start, b_end), = ev["bank_ranges"]
    assert abs(b_start - 12) < 0.5 and abs(b_end - 20) < 0.5


def test_unrelated_video_does_not_match(vtype, bank_video):
    bank = Bank(vtype)
    bank.add("long", bank_video)
    assert bank.match(vtype.hash(Content("u", "video", data=make_video(6, seed=5)))) == {}


def test_long_query_containing_whole_bank_clip_matches_on_bank_coverage(vtype, bank_video):
    bank = Bank(vtype)
    bank.add("short", vtype.hash(Content("s", "video", data=make_video(6, seed=11, start=3))))
    found = bank.match(bank_video)  # the 30 s video contains the bank's 6 s
    assert found["short"].evidence["query_coverage"] < 0.3
    assert found["short"].evidence["bank_coverage"] > 0.9


def test_all_frames_below_quality_floor_is_a_clear_error_not_zero_division(vtype):
    import numpy as np
    from test_video import encode

    flat = [np.full((120, 160, 3), 40, dtype=np.uint8)] * 20
    with pytest.raises(ContentError, match="all 20 sampled frames have PDQ quality below 50"):
        vtype.hash(Content("flat", "video", data=encode(flat)))


def test_low_quality_query_signals_never_match(vtype, bank_video):
    bank = Bank(vtype)
    bank.add("long", bank_video)
    weak = [Signal("vpdq", s.value, 10, s.meta) for s in bank_video]
    assert vtype.match(weak, bank.index, 31, bank.lookup) == []


def test_time_ranges_bridge_short_gaps():
    assert time_ranges([0, 0.1, 0.2, 3.0, 3.1], 0.1) == [[0.0, 0.3], [3.0, 3.2]]
    assert time_ranges([5.0], 1.0, duration=5.5) == [[5.0, 5.5]]


def test_validate_and_registry():
    registry = SignalRegistry.from_entry_points(Settings(), only=["vpdq", "video_md5"])
    vtype = registry.get("vpdq")
    assert vtype.validate(" " + "AB" * 32) == "ab" * 32
    with pytest.raises(ValueError):
        vtype.validate("abc")
    md5 = registry.get("video_md5")
    assert md5.content_kinds == frozenset({"video"})


def test_video_md5_from_bytes_and_path(tmp_path):
    data = make_video(1, seed=4)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    md5 = SignalRegistry.from_entry_points(Settings(), only=["video_md5"]).get("video_md5")
    expected = hashlib.md5(data).hexdigest()
    assert md5.hash(Content("a", "video", data=data))[0].value == expected
    assert md5.hash(Content("b", "video", path=path))[0].value == expected
    with pytest.raises(ContentError, match="cannot read"):
        md5.hash(Content("c", "video", path=tmp_path / "missing.mp4"))


@pytest.mark.skipif(not EVALDATA.exists(), reason="needs ../shared/evaldata (ThreatExchange sample videos)")
def test_frame_hashes_agree_with_reference_vpdq():
    from crossmatch.media.video import hash_video

    name = "doorknob-hd-no-bar"
    ref = [line.split(",") for line in (EVALDATA / "vpdq-sample-hashes" / f"{name}.txt").read_text().split()]
    ours = hash_video(EVALDATA / "sample-videos" / f"{name}.mp4", name, Settings().video,
                      frame_size=0, trim_bars=False).frames
    assert [f.frame for f in ours] == [int(r[0]) for r in ref]
    dists = sorted(hamming(r[2], f.hex) for r, f in zip(ref, ours) if int(r[1]) >= 50 and f.quality >= 50)
    # The upstream regression criterion; bits differ a little by FFmpeg build (decoder, colour conversion).
    assert len(dists) > 20 and max(dists) < 31 and dists[len(dists) // 2] <= 4


@pytest.mark.skipif(not EVALDATA.exists(), reason="needs ../shared/evaldata (ThreatExchange sample videos)")
def test_full_size_frame_hashes_equal_the_vpdq_library():
    vpdq = pytest.importorskip("vpdq", reason="the vpdq package (video extra) is the reference here")
    from crossmatch.media.video import hash_video

    path = EVALDATA / "sample-videos" / "doorknob-hd-no-bar.mp4"
    ours = hash_video(path, "d", Settings().video, frame_size=0, trim_bars=False).frames
    theirs = vpdq.computeHash(str(path), seconds_per_hash=0)
    assert [(f.frame, f.hex, f.quality) for f in ours] == [(f.frame_number, f.hex, f.quality) for f in theirs]


def test_still_shot_folds_into_one_signal_and_coverage_counts_every_frame(vtype):
    import numpy as np
    from test_video import encode, scenes

    still = scenes(1, seed=21)[0]
    data = encode([still] * 30 + scenes(2, seed=22), fps=10)  # 3 s still, then 2 s of motion
    signals = vtype.hash(Content("still", "video", data=data))
    first = min(signals, key=lambda s: s.meta["time"])
    assert first.meta["repeats"] >= 25 and len(signals) < 40
    bank = Bank(vtype)
    bank.add("still", signals)
    ev = bank.match(signals)["still"].evidence
    assert ev["query_coverage"] == 1.0 and ev["bank_coverage"] == 1.0
    assert ev["matched_query_frames"] == ev["query_frames"] == first.meta["slots"]
    assert ev["query_ranges"][0][0] == 0.0
    assert np.isclose(ev["query_ranges"][-1][1], 5.0, atol=0.2)
