"""Issue 15 findings 14 and 15: over-long fields are a 422 with nothing left on disk (PostgreSQL
included), and two imports of overlapping ids at once both finish without an IntegrityError."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_api_support import PG_URL, api, database_url  # noqa: F401  (fixture)

CROSSMATCH = str(Path(sys.executable).with_name("crossmatch"))


def spooled(api) -> set[str]:  # noqa: F811
    spool = Path(api.state.submissions.spool)
    return {p.name for p in spool.iterdir()} if spool.exists() else set()


@pytest.mark.parametrize("field", ["source", "idempotency_key"])
def test_over_long_fields_are_refused_and_leave_no_spooled_upload(api, field):  # noqa: F811
    before = spooled(api)
    c, mat = api.client, api.h("matcher")
    r = c.post("/api/v1/submissions", files={"file": ("note.txt", b"a benign note", "text/plain")},
               data={field: "k" * 300}, headers=mat)
    assert r.status_code == 422 and "200" in r.json()["detail"], r.text
    r = c.post("/api/v1/submissions", json={"text": "a benign note", field: "k" * 300}, headers=mat)
    assert r.status_code == 422, r.text
    r = c.post("/api/v1/submissions", json={"text": "a benign note"}, headers={**mat, "Idempotency-Key": "k" * 300})
    assert r.status_code == 422, r.text
    assert spooled(api) == before


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_concurrent_imports_of_overlapping_ids_both_finish(tmp_path, backend):
    if backend == "postgres" and not PG_URL:
        pytest.skip("needs CROSSMATCH_TEST_POSTGRES_URL")
    rows = ["signal_type,signal,id"] + [f"md5,{hashlib.md5(str(i).encode()).hexdigest()},item{i}" for i in range(600)]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join(rows[:401]) + "\n")
    b.write_text("\n".join(rows[:1] + rows[201:]) + "\n")  # ids 200-399 in both
    with database_url(backend) as url:
        base = [CROSSMATCH, "--home", str(tmp_path / "home"), "--workers", "1"] + (["--database-url", url] if url else [])
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run(base + ["bank", "create", "b"], check=True, capture_output=True, env=env)
        procs = [subprocess.Popen(base + ["bank", "import", "b", str(p), "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env) for p in (a, b)]
        outs = [p.communicate(timeout=300) for p in procs]
        for proc, (out, err) in zip(procs, outs):
            assert proc.returncode == 0 and b"Traceback" not in err and b"IntegrityError" not in err, err.decode()[-2000:]
        totals = [json.loads(out.decode().splitlines()[-1]) for out, _ in outs]
        assert sum(t["added"] for t in totals) == 600 and sum(t["unchanged"] for t in totals) == 200
        shown = subprocess.run(base + ["bank", "show", "b", "--json"], check=True, capture_output=True, env=env)
        assert json.loads(shown.stdout.decode().splitlines()[0])["items"] == 600
