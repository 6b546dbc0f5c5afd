"""The short, bounded fuzz run of CI: every atheris target of tests/security/fuzz.py, 15 seconds in all.

A longer run is documented in that file's docstring; a crash fails this test with libFuzzer's
report (and the input saved as crash-*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is in the dev extra: pip install -e '.[dev]'")

FUZZ = Path(__file__).with_name("fuzz.py")


def test_fuzz_targets_survive_a_short_run(tmp_path):
    proc = subprocess.run([sys.executable, str(FUZZ), "all", "-max_total_time=15", "-rss_limit_mb=2048", "-timeout=20",
                           f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done " in proc.stderr
