"""Smoke run of bench/hma_side_by_side.py without HMA (HMA is never installed by tests): the
crossmatch side runs end to end through the HMA routes and prints its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_hma_side_by_side_smoke_runs_the_crossmatch_side(tmp_path):
    figures = tmp_path / "figures.json"
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "hma_side_by_side.py"), "--smoke", "--json", str(figures)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HMA not given" in out.stdout  # says plainly that only one side ran
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.stdout.splitlines() if line.startswith("| ")}
    matchable = rows["bulk load 2,000 rows: to matchable s"]
    assert matchable[0] != "—" and float(matchable[0]) > 0 and matchable[1] == "not run"
    for name in ("GET /m/lookup c=1 p50 ms", "GET /m/lookup c=8 req/s"):
        assert float(rows[name][0].replace(",", "")) > 0

    res = json.loads(figures.read_text())["crossmatch"]
    assert all(s is not None for s in res["fresh"])  # every new hash became matchable
    for fig in res["lookup"].values():
        assert fig["errors"] == 0 and fig["missed"] == 0  # near copies of list hashes all matched
    families = res["recall"]["families"]
    assert families["jpeg_20"][0] == families["jpeg_20"][2]  # a re-encode is always found by file
    assert res["recall"]["wrong"] == [0, 0]
