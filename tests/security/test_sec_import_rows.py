"""Issue 15 findings 11, 12 and 19: a malformed STIX object, a huge CSV cell, a deeply nested
JSONL line or an item with too many labels is an error of that row; the import goes on."""

from __future__ import annotations

import hashlib
import json

import pytest

from crossmatch.banks.schemas import BankSpec
from crossmatch.exchange.service import ExchangeService
from test_api_support import api, unique  # noqa: F401  (fixture)
from test_sec_imports import cli

T0 = "2024-01-01T00:00:00Z"


def md5(i: int) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


def indicator(n: int, **extra) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": T0, "modified": T0, "valid_from": T0, "pattern_type": "stix",
            "pattern": f"[file:hashes.MD5 = '{md5(n)}']", **extra}


MALFORMED = [
    indicator(2, x_crossmatch_signals="md5:abc"),
    indicator(3, x_crossmatch_signals=["md5", "abc"]),
    indicator(4, x_crossmatch_signals=[{"type": "md5", "value": md5(4), "meta": "not an object"}]),
    indicator(5, x_crossmatch_signals=[{"type": "md5", "value": "zz"}]),
    indicator(6, x_crossmatch_labels=7),
    indicator(7, x_crossmatch_opinions="many"),
    {"type": "x-custom-thing", "spec_version": "2.1"},  # no id
    {"type": "relationship", "spec_version": "2.1", "id": "relationship--00000000-0000-4000-8000-000000000001",
     "created": T0, "modified": T0, "relationship_type": "indicates"},
    "not an object",
]


def test_one_malformed_stix_indicator_fails_alone_and_reruns_succeed(ctx, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",
                                "objects": [indicator(1), *MALFORMED, indicator(8)]}))
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("s", "stix", "b", {"path": str(path)})
    for _ in range(2):  # a rerun meets the same bad objects and still completes
        report = service.sync("s")
        assert report.complete and report.error is None, report.error
        assert report.added + report.unchanged == 2
        assert len(report.errors) >= len(MALFORMED) - 1
    assert ctx.banks.get_item("b", indicator(8)["id"])


def test_a_huge_csv_cell_fails_its_row_and_later_rows_import(tmp_path):
    home = tmp_path / "home"
    rows = ["signal_type,signal,id,notes"]
    rows += [f"md5,{md5(i)},a{i}," for i in range(10)]
    # Cells up to 4 MiB are read (a TMK+PDQF hash is 351 KB): a 200 KB label fails on the label limit,
    # a 5 MiB cell on the CSV reader's own limit; either way only its row, and the rows after it load.
    rows += [f"md5,{md5(99)},huge,{'x' * (200 * 1024)}"]
    rows += [f"md5,{md5(i)},b{i}," for i in range(1000, 2000)]
    rows += [f"md5,{md5(98)},huger,{'y' * (5 * 1024 * 1024)}"]
    rows += [f"md5,{md5(i)},c{i}," for i in range(3000, 3010)]
    path = tmp_path / "list.csv"
    path.write_text("\n".join(rows) + "\n")
    cli(home, "bank", "create", "b")
    out = cli(home, "bank", "import", "b", str(path), "--json")
    assert out[-1]["added"] == 1020 and out[-1]["errors"] == 2
    errors = {e["item"].rsplit("/", 1)[-1]: e["error"] for e in out[:-1]}
    assert "limits.max_label_chars" in errors["list.csv:12"]
    assert "field larger" in errors["list.csv:1013"]


def test_too_many_columns_or_labels_are_refused_per_file_and_per_item(tmp_path):
    home = tmp_path / "home"
    wide = tmp_path / "wide.csv"
    wide.write_text("signal_type,signal," + ",".join(f"c{i}" for i in range(100_000)) + "\n" + f"md5,{md5(1)}" + ",v" * 100_000 + "\n")
    cli(home, "bank", "create", "b")
    out = cli(home, "bank", "import", "b", str(wide), "--json", code=2)
    assert "columns; at most" in out[0]["error"] and out[-1]["added"] == 0
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "many", "text": "a benign sentence about the harbour and its boats",
                                 "labels": {f"k{i}": "v" for i in range(1000)}}) + "\n"
                     + json.dumps({"id": "long", "url": "https://example.org/a", "labels": {"notes": "n" * 10_000}}) + "\n"
                     + json.dumps({"id": "typed", "url": "https://example.org/b", "labels": {"entity": {"x": 1}}}) + "\n"
                     + json.dumps({"id": "fine", "url": "https://example.org/c", "labels": {"entity": "Group A"}}) + "\n")
    out = cli(home, "bank", "import", "b", str(items), "--json")
    errors = {r["item"]: r["error"] for r in out if "error" in r}
    assert out[-1]["added"] == 1 and set(errors) == {"many", "long", "typed"}
    assert "max_labels" in errors["many"] and "max_label_chars" in errors["long"]


DEEP = json.dumps({"id": "deep", "text": "x"})[:-1] + ', "labels": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"


def test_a_deeply_nested_jsonl_line_fails_alone_in_the_cli(tmp_path):
    home = tmp_path / "home"
    items = tmp_path / "items.jsonl"
    items.write_text(DEEP + "\n" + json.dumps({"id": "ok", "url": "https://example.org/x"}) + "\n")
    cli(home, "bank", "create", "b")
    out = cli(home, "bank", "import", "b", str(items), "--json")
    assert out[-1]["added"] == 1 and "nests JSON" in out[0]["error"]


def test_a_deeply_nested_jsonl_line_fails_alone_over_http(api):  # noqa: F811
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    body = (DEEP + "\n" + json.dumps({"id": "ok", "url": "https://example.org/x"}) + "\n").encode()
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("items.jsonl", body, "application/jsonl")}, headers=cur)
    assert r.status_code == 200 and r.json()["added"] == 1 and "nests JSON" in r.json()["errors"][0]["error"], r.text
