"""Smoke runs of issue 18's evaluation and benchmark scripts (tiny inputs): they run and print their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_flood_eval_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "eval" / "flood.py"), "--smoke"], capture_output=True, text=True, check=True).stdout
    row = [line for line in out.splitlines() if line.startswith("| 1 |")]
    cells = [c.strip() for c in row[0].split("|")] if row else []
    assert cells and cells[4] != "—" and cells[5] == "1"  # the flooding signal was quarantined, one case in the queue


@pytest.mark.slow
def test_bulk_load_bench_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bulk_load.py"), "--smoke", "--postgres", ""],
                         capture_output=True, text=True, check=True).stdout
    assert "| SQLite | 2,000 |" in out
