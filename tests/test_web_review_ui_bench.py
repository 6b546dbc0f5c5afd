"""Smoke run of bench/review_ui.py: it serves a filled queue and prints its table with ratios (no timing asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("uvicorn", reason="the review UI bench needs uvicorn (server extra)")


@pytest.mark.slow
def test_bench_review_ui_smoke() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "review_ui.py"), "--smoke", "--no-browser"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| queue") or line.startswith("| case view")]
    assert len(rows) == 4 and all(line.count("|") == 6 for line in rows), run.stdout
    assert "60 open cases" in run.stdout and "baseline 10 cases" in run.stdout
