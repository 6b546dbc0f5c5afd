"""Smoke run of bench/api_load.py: tiny bank, short runs, real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_api_load_smoke(tmp_path):
    out = tmp_path / "api_load.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "api_load.py"), "--smoke", "--pdq", "500", "--text", "0", "--concurrency", "2",
         "--rate", "10", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = summary["results"]["pdq"]
    assert [r["mode"] for r in rows] == ["closed, concurrency 2", "open, 10 req/s offered"]
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in rows)
    found, expected = summary["pdq_recall_api"]
    assert expected > 0 and found == expected  # near copies of bank hashes are found over HTTP
    assert summary["pdq_recall_inprocess"][0] == summary["pdq_recall_inprocess"][1] > 0
    report = out.read_text()
    assert "| in-process Engine.lookup, 1 thread |" in report and "2 cores, shared" in report
