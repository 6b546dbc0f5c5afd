"""Smoke run of eval/images.py on a handful of real reference images (ThreatExchange, AugLy, UKBench)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import EVALDATA as DATA

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (DATA / "threatexchange-pdq-vpdq-tmk" / "expected_pdq_hashes.csv").exists(), reason="evaldata not on this machine"
)


def _load_eval():
    spec = importlib.util.spec_from_file_location("eval_images", ROOT / "eval" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_images_smoke(tmp_path, capsys):
    out_json = tmp_path / "images.json"
    results = _load_eval().main(["--smoke", "--data", str(DATA), "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert "## 1. Conformance" in printed and "## 2. Recall" in printed and "## 3. False matches" in printed
    assert json.loads(out_json.read_text())["conformance"]

    # Conformance: full-resolution hash of the bridge photo equals the C++ reference (0 bits, quality 100).
    conf = {r["file"]: r for r in results["conformance"]}
    bridge = conf["bridge-mods/aaa-orig.jpg"]
    assert bridge["impl"] == "cpp-reference" and bridge["d0"] <= 2 and bridge["q0"] == 100
    assert bridge["d512"] <= 16  # reduced decode stays well inside the match threshold

    # Recall: the bridge original is found under its dihedral variants only with dihedral matching on.
    off = {r["transformation"]: r for r in results["dihedral_off"]["queries"]}
    on = {r["transformation"]: r for r in results["dihedral_on"]["queries"]}
    for name in ("rotate-90", "flipx", "flip-minus-1"):
        assert not off[name]["found"] and off[name]["distance"] > 31
        assert on[name]["found"] and on[name]["variant"] != "original"
    assert on["hflip"]["found"] and not off["hflip"]["found"]
    assert off["blur-a-little"]["found"] and off["grayscale"]["found"]
    assert not any(r["wrong"] for r in results["dihedral_on"]["queries"])

    # No false matches among unrelated images; the corrupt file is reported, not raised.
    for run in ("dihedral_off", "dihedral_on"):
        for neg in results[run]["negatives"]:
            assert neg["vs_originals"] == [] and neg["vs_unrelated"] == [], neg
    assert "not an image" in results["dihedral_on"]["corrupt"]["error"]
