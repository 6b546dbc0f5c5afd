"""Smoke runs of eval/text.py and bench/text_match.py on tiny subsets of the public data."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = EVALDATA_DIR
pytestmark = pytest.mark.skipif(not EVALDATA.is_dir(), reason=f"evaluation data not found at {EVALDATA}")
SLOW = pytest.mark.slow  # embeds a few hundred sentences into a fresh cache


def load(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem + "_under_test", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@SLOW
def test_eval_smoke_reports_every_table(capsys, tmp_path):
    assert load("eval/text.py").main(["--smoke", "--cache", str(tmp_path / "emb"), "--data", str(EVALDATA_DIR)]) == 0
    out = capsys.readouterr().out
    for heading in ("## Tatoeba", "## FLORES-200 translations", "## Ablation", "Recall per query language"):
        assert heading in out
    # One row per split for the whole bank, a column per query set; the twelve Russian
    # translations of the Arabic bank documents are all found.
    rows = {split: cells.split(" | ") for split, cells in re.findall(r"^\| all \| (tune|report) \| (.*) \|$", out, re.M)}
    assert set(rows) == {"tune", "report"}
    header = next(line for line in out.splitlines() if line.startswith("| bank (chunks) | split |"))
    assert "chatty-1" in header and "disguise-all" in header and "retold" in header
    for cells in rows.values():
        assert cells[0] == "100.0"  # documents
    # the shards written for the run are read back on a second run (no re-embedding)
    assert list((tmp_path / "emb").rglob("*.npy"))


def test_bench_smoke_prints_a_table(capsys):
    assert load("bench/text_match.py").main(["--smoke"]) == 0
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if line.startswith("| 2,000 |")]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert cells[1] == "exact numpy" and float(cells[2]) > 0 and float(cells[4]) > 0
