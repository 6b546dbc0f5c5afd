"""Smoke run of bench/rescan.py: the re-scan flags every planted old upload and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyarrow", reason="the scale extra is not installed (pip install 'crossmatch[scale]')")
BENCH = Path(__file__).resolve().parents[1] / "bench" / "rescan.py"


@pytest.mark.slow
def test_rescan_bench_smoke_flags_every_planted_upload():
    done = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["all_planted_flagged"] and row["false_flags"] == 0 and row["flagged"] == row["planted"]
