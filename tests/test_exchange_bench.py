"""Smoke run of bench/sync.py: the benchmark imports every row, reruns unchanged, and writes its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sync_bench_smoke(tmp_path):
    out = tmp_path / "sync.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "sync.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "3,000 CSV rows" in text and "plain `csv.DictReader` read" in text and "first import" in text
    assert "2 cores, shared with other jobs" in text
