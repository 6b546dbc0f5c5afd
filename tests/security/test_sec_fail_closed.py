"""Issue 15 findings 3, 6 and 17: one bad link, a NUL, a long text or a deep JSON body never
turns into a 500 or a silent "clean"; what could not be checked says so and goes to a person."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmatch.cli import app as cli_app
from crossmatch.settings import LimitsSettings, ServiceSettings, Settings
from test_api_support import Api, unique

KNOWN = ("The harbour festival opens on Saturday with a parade of painted boats along the river. "
         "Volunteers hand out maps and lemonade at the bridge, and the brass band plays until sunset. "
         "Families are asked to bring blankets for the fireworks over the old lighthouse.")
BAD_LINKS = ["http://example.com:99999/", "http://[::1/x"]


def filler(chars: int) -> str:
    # Numbers only: no letters, so the text embedding (the slow part) has nothing to embed.
    return "".join(f"{i:09d} " for i in range(chars // 10 + 1))[:chars]


@contextmanager
def limited_api(home: Path):
    from fastapi.testclient import TestClient

    from crossmatch.api.app import create_app

    settings = Settings(home=home, deep_scan=False, workers=1,
                        service=ServiceSettings(background_workers=False, rate_per_second=0),
                        limits=LimitsSettings(text_part_chars=2000, max_text_chars=12_000, lookup_hash_budget_s=600))
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(app, client)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with limited_api(tmp_path_factory.mktemp("home")) as running:
        c, cur = running.client, running.h("curator")
        c.post("/api/v1/banks", json={"name": "known"}, headers=cur)
        signals = c.post("/api/v1/hash", json={"text": KNOWN}, headers=running.h("hasher")).json()["signals"]
        near = [{"type": s["type"], "value": s["value"]} for s in signals if s["type"] == "text_near"]
        assert c.put("/api/v1/banks/known/items", json={"items": [{"id": "festival", "signals": near}]},
                     headers=cur).status_code == 200
        yield running


def lookup(api, text: str) -> dict:
    r = api.client.post("/api/v1/lookup", json={"text": text}, headers=api.h("matcher"))
    assert r.status_code == 200, r.text
    return r.json()


def matched(out: dict) -> bool:
    return any(m["bank_item"] == "festival" for m in out["matches"])


@pytest.mark.parametrize("link", BAD_LINKS)
def test_one_bad_link_never_hides_the_text(api, link):
    out = lookup(api, f"{KNOWN} More at {link} and https://example.org/ok")
    assert matched(out) and out["complete"] and out["error"] is None


def test_a_nul_is_removed_and_the_text_still_matches(api):
    out = lookup(api, KNOWN.replace("parade", "par\x00ade\x01"))
    assert matched(out) and out["complete"]
    assert any("NUL or control" in w for w in out["warnings"])


def test_a_long_text_is_matched_in_full_in_parts(api):
    out = lookup(api, filler(8000) + " " + KNOWN)  # the known passage sits in the last part
    assert matched(out) and out["complete"], out


def test_text_past_the_limit_is_never_clean(api):
    out = lookup(api, filler(13_000))
    assert not out["complete"] and "max_text_chars" in out["error"]


@pytest.mark.parametrize("path", ["/api/v1/lookup", "/api/v1/hash", "/m/compare"])
def test_deeply_nested_json_is_a_422_not_a_500(api, path):
    body = b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = api.client.post(path, content=body, headers={**api.h("admin"), "Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert api.client.get("/healthz").status_code == 200


def test_deeply_nested_text_content_is_matched(api):
    out = lookup(api, "[" * 5000 + KNOWN + "]" * 5000)
    assert out["complete"] and matched(out)


def test_an_unchecked_submission_opens_a_case(api):
    c, mat = api.client, api.h("matcher")
    sid = c.post("/api/v1/submissions", json={"text": filler(13_000)}, headers=mat).json()["id"]
    while api.state.submissions.process_next():
        pass
    out = c.get(f"/api/v1/submissions/{sid}", headers=mat).json()
    assert out["status"] == "failed" and out["result"]["complete"] is False and out["case_id"] is not None
    case = c.get(f"/api/v1/cases/{out['case_id']}", headers=api.h("reviewer")).json()
    assert any("not fully checked" in w for w in case["warnings"]), case


def test_bank_import_of_a_csv_with_one_bad_link_imports_the_other_rows(api):
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    csv = "signal_type,signal,id\nurl,https://example.com/a,a\nurl,http://example.com:99999/,b\nurl,http://[::1/x,c\nurl,example.org/d,d\n"
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("links.csv", csv.encode(), "text/csv")}, headers=cur)
    assert r.status_code == 200 and r.json()["added"] == 2 and len(r.json()["errors"]) == 2, r.text


def test_cli_scan_goes_on_past_a_bad_link(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"t{i}", "text": f"{KNOWN} see {link}"}) + "\n"
                             for i, link in enumerate(BAD_LINKS + ["https://example.org/fine"])))
    result = CliRunner().invoke(cli_app, ["--home", str(tmp_path / "home"), "--workers", "1", "scan", str(items), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"item"')]
    assert [r["item"] for r in rows] == ["t0", "t1", "t2"] and all(r["complete"] for r in rows)
