"""Smoke runs of eval/images_edits.py and bench/image_deep.py (their full runs are in EVALUATION.md / BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import EVALDATA

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("cv2", reason="opencv-python-headless is in the 'media' extra")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (EVALDATA / "imagededup-ukbench-tests").exists(), reason="evaldata not on this machine"),
]


def _load(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_images_edits_smoke(tmp_path, capsys):
    out_json = tmp_path / "edits.json"
    out = _load("eval/images_edits.py").main(["--smoke", "--data", str(EVALDATA), "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert "## Recall per edit family" in printed and "## False matches" in printed
    assert json.loads(out_json.read_text())["queries"] == out["queries"]
    recall = out["recall"]
    # The edits PDQ is blind to are found by the full pipeline; PDQ alone finds none of the crops.
    assert recall["crop_centre"]["pdq"] <= 0.2 and recall["crop_centre"]["full"] >= 0.8
    assert recall["rotate_1_30"]["full"] >= 0.8 and recall["mirror_crop"]["full"] >= 0.8
    assert recall["all"]["full"] > recall["all"]["pdq+regions"] >= recall["all"]["pdq"]
    assert out["false_matches"]["full"] == [] and out["distractor_queries"] > 0
    assert out["keypoint_threshold"] >= 8


def test_image_deep_bench_smoke(capsys):
    out = _load("bench/image_deep.py").main(["--smoke", "--data", str(EVALDATA)])
    printed = capsys.readouterr().out
    assert "Deep pass per 1 MP image" in printed and "Bank memory per image" in printed
    assert out["deep_full"]["n"] > 0 and out["deep_full"]["deep_ms_median"] > 0
    assert 0 < out["bank_signal_bytes_mean"] <= 16 * 1024
    row = out["index"][0]
    assert row["built"] and row["planted_inliers"] >= 12 and row["wrong_hits"] == 0
