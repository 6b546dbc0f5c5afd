"""Smoke runs of the media evaluations and benchmarks (their full runs live in eval/ and bench/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = ROOT.parent / "shared" / "evaldata"

pytest.importorskip("av", reason="PyAV is in the 'video' extra")
pytest.importorskip("cv2", reason="opencv-python-headless is in the 'media' extra")


def run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_video_hash_bench_smoke():
    out = run("bench/video_hash.py", "--smoke")
    ours = [r for r in out["rows"] if r["method"].startswith("crossmatch")]
    assert len(ours) == 2 and all(r["video_s"] > 2.5 and r["video_s_per_wall_s"] > 0 for r in ours)


def test_image_scan_bench_smoke():
    out = run("bench/image_scan.py", "--smoke")
    modes = {r["mode"]: r for r in out["rows"]}
    assert out["images"] == 3 and modes["pdq"]["images_per_s"] > 0
    assert 0 < modes["pdq + regions"]["regions_per_image_max"] <= 6


@pytest.mark.skipif(not EVALDATA.exists(), reason="needs ../shared/evaldata")
def test_video_eval_smoke_matches_pattern_variant_and_not_doorknob():
    out = run("eval/video.py", "--smoke")
    rows = {r["query"]: r for r in out["reuploads"]}
    assert rows["pattern-sd-grey-bar.mp4"]["matched"] == "pattern"
    assert rows["doorknob-hd-no-bar.mp4"]["matched"] == "doorknob"
    assert out["tally"]["fp"] == 0
