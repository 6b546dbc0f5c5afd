"""Smoke runs of eval/tmk.py and bench/tmk.py on a few short ThreatExchange sample videos."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import EVALDATA as DATA

from crossmatch.signals.tmk import tmkpy_available

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DATA / "threatexchange-pdq-vpdq-tmk" / "sample-videos").exists(), reason="evaldata not on this machine"),
    pytest.mark.skipif(not tmkpy_available(), reason="tmkpy is in the 'tmk' extra"),
]


def _load(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem + "_smoke", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_tmk_smoke(tmp_path, capsys):
    out = tmp_path / "tmk.json"
    results = _load("eval/tmk.py").main(["--smoke", "--data", str(DATA), "--json", str(out)])
    printed = capsys.readouterr().out
    assert "## 1. Reference pair scores" in printed and "## 4. Detection" in printed
    assert json.loads(out.read_text())["videos"] == results["videos"]
    pairs = {(r["a"], r["b"]): r for r in results["reference_pairs"]}
    assert ("chair-22-sd-grey-bar", "chair-orig-22-sd-bar") in pairs
    assert all(r["diff"] < 1e-4 for r in pairs.values())
    assert all(c["same"] for c in results["clusters"].values())
    rows = {r["query"]: r for r in results["detection"]["rows"]}
    assert rows["chair-22-sd-grey-bar"]["matched"] and not rows["doorknob-hd-no-bar"]["matched"]


def test_bench_tmk_smoke(tmp_path, capsys):
    result = _load("bench/tmk.py").main(["--smoke", "--data", str(DATA), "--queries", "2", "--json", str(tmp_path / "b.json")])
    printed = capsys.readouterr().out
    assert "TMK / vPDQ" in printed and "brute force" in printed
    assert len(result["hashing"]) == 2 and result["ratio"] > 0
    assert result["lookup"]["bank"] == 50 and result["lookup"]["queries"] == 2
