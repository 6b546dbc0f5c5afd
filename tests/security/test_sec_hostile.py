"""The hostile-input corpus (tests/security/hostile.py) through the API and the CLI: every item
gets its own answer, no 5xx, the server keeps serving, memory stays bounded."""

from __future__ import annotations

import json
import resource

import pytest
from typer.testing import CliRunner

from crossmatch.cli import app as cli_app
from hostile import answered, generate, send
from test_api_support import running_api

MAX_RSS_MB = 3000  # this process: test client and server in one, the corpus's worst item included


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("hostile"), large=False)


@pytest.mark.slow
def test_every_hostile_input_gets_an_answer_over_http(corpus, tmp_path):
    with running_api(tmp_path / "home", "sqlite") as api:
        c = api.client
        c.post("/api/v1/banks", json={"name": "hostile"}, headers=api.h("curator"))
        problems = []
        for item in corpus:
            r = send(c, item, api.h("curator" if item.route == "import" else "matcher"))
            if not answered(item, r):
                problems.append((item.name, r.status_code, r.text[:300]))
            assert c.get("/healthz").status_code == 200
        assert problems == []
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 < MAX_RSS_MB


@pytest.mark.slow
def test_every_hostile_file_gets_a_result_from_cli_scan(corpus, tmp_path):
    files = [h.path for h in corpus if h.path is not None and h.route == "lookup"]
    folder = files[0].parent
    result = CliRunner().invoke(cli_app, ["--home", str(tmp_path / "home"), "--workers", "1", "scan", str(folder), "--json"],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output[-2000:]  # 1: some items matched nothing usable, never a crash
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"item"')]
    by_name = {r["item"].rsplit("/", 1)[-1]: r for r in rows}
    expected = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert set(by_name) == expected
    for name, row in by_name.items():
        assert row["complete"] or row["error"], (name, row)
