"""Smoke run of bench/text_match.py: it must print the markdown table with its ratio columns (no timing asserts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = EVALDATA_DIR


@pytest.mark.skipif(not (EVALDATA / "ntrex128").is_dir(), reason=f"evaluation data not found at {EVALDATA}")
def test_bench_text_match_smoke():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "text_match.py"), "--smoke"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert "whole/raw wall" in header and "whole/raw CPU" in header and "recall@16 vs exact" in header
    assert set(lines[1].replace("|", "")) == {"-"} and len(lines) == 3
    row = dict(zip(header, (c.strip() for c in lines[2].strip("|").split("|"))))
    assert row["bank chunks"] == "2,000" and row["index"] == "exact numpy"
    assert float(row["whole/raw wall"]) > 0 and float(row["whole/raw CPU"]) > 0
    assert re.fullmatch(r"[\d.]+ / [\d.]+", row["lookup p50 / p95 ms"])
    assert re.fullmatch(r"\d+/\d+", row["decisions as exact"])
    assert re.fullmatch(r"\d+ / \d+ of \d+", row["translations found: index / exact"])
    assert "load average" in proc.stdout  # the machine load is part of the result


def test_bench_text_match_help_documents_the_command():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "text_match.py"), "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and ".venv/bin/python bench/text_match.py" in proc.stdout
