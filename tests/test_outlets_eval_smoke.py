"""Smoke runs of eval/outlets.py and bench/outlets.py on tiny streams: they run, print their tables,
and the simulator's planted outlets are found without news or researcher accounts in them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_eval_outlets_smoke(tmp_path, capsys):
    ev = _load("eval/outlets.py", "eval_outlets")
    [(seed, row)] = ev.main(["--smoke", "--ordinary", "200", "--news", "6", "--researchers", "6", "--outlets", "3",
                             "--days", "45", "--cache", str(tmp_path), "--json", str(tmp_path / "out.json")])
    assert "| seed | posts |" in capsys.readouterr().out
    assert row["planted"] == 3 and row["detected"] >= 2
    assert row["innocents_in_outlets"].get("news", 0) == 0 and row["innocents_in_outlets"].get("researcher", 0) == 0
    assert row["candidates"] >= 1 and row["candidate_precision"] >= 0.5


def test_bench_outlets_smoke(capsys):
    bench = _load("bench/outlets.py", "bench_outlets")
    result = bench.main(["--accounts", "500", "--posts", "4000", "--outlets", "4"])
    assert "plain Louvain" in capsys.readouterr().out
    assert result["outlets_found"] >= 2 and result["plain_every_change_us_per_post"] > 0
