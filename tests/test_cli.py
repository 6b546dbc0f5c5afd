"""The CLI end to end: bank create/import, hash, scan, lookup; bad input; reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmatch.cli import app
from crossmatch.samples import make_poster, to_bytes, write_demo_set

runner = CliRunner()


def run(home: Path, *args: str, code: int = 0) -> list[dict]:
    result = runner.invoke(app, ["--home", str(home), "--workers", "1", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def test_bank_commands(home):
    assert run(home, "bank", "create", "posters", "--threshold", "pdq=20", "--label", "team=ct", "--json")[0]["thresholds"] == {"pdq": 20.0}
    out = run(home, "bank", "create", "posters", "--json", code=2)
    assert out[0]["error"] == "Conflict" and "already exists" in out[0]["detail"]
    run(home, "bank", "create", "benign", "--kind", "allow")
    listed = run(home, "bank", "list", "--json")
    assert [(b["name"], b["kind"], b["items"]) for b in listed] == [("benign", "allow", 0), ("posters", "block", 0)]
    assert run(home, "bank", "set", "posters", "--disabled", "--json")[0]["enabled"] is False
    assert run(home, "bank", "show", "nope", "--json", code=2)[0]["error"] == "NotFound"
    assert run(home, "bank", "delete", "benign", "--json")[0] == {"deleted": "benign"}
    assert run(home, "bank", "create", "x", "--threshold", "nosuch=3", "--json", code=2)[0]["detail"].startswith("unknown signal type")


def test_import_folder_and_scan_edited_copies(home, tmp_path):
    known, incoming = write_demo_set(tmp_path / "demo", known=7, unrelated=3)
    run(home, "bank", "create", "posters")
    summary = run(home, "bank", "import", "posters", str(known), "--json")[-1]
    assert summary == {"bank": "posters", "added": 7, "updated": 0, "unchanged": 0, "errors": 0}
    # Importing again is a no-op: nothing duplicated.
    assert run(home, "bank", "import", "posters", str(known), "--json")[-1]["unchanged"] == 7

    results = {Path(r["item"]).name: r for r in run(home, "scan", str(incoming), "--json")}
    assert len(results) == 10
    for name, result in results.items():
        assert set(result) >= {"item", "matches", "error"}
        assert result["error"] is None
        if "unrelated" in name:
            assert result["matches"] == [], name
            continue
        expected = "poster_" + name.split("_")[1] + ".jpg"
        pdq = [m for m in result["matches"] if m["signal_type"] == "pdq"]
        assert [m["bank_item"] for m in pdq] == [expected], name
        assert pdq[0]["distance"] <= pdq[0]["threshold"] and pdq[0]["bank"] == "posters"
        assert "query_meta" in pdq[0]["evidence"]


def test_hash_json_shape_and_bad_files(home, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(to_bytes(make_poster(3), "PNG"))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "fake.jpg").write_bytes(b"this is plain text, not a JPEG")
    (folder / "notes.txt").write_bytes(b"\xff\xfe broken utf-8")
    out = {Path(r["item"]).name: r for r in run(home, "hash", str(folder), "--json")}
    assert set(out) == {"good.png", "empty.jpg", "fake.jpg", "notes.txt"}
    good = out["good.png"]
    assert good["error"] is None
    assert {s["type"] for s in good["signals"]} == {"pdq", "md5", "sha256", "sha512"}
    assert [s for s in good["signals"] if s["type"] == "pdq"][0]["quality"] > 50
    assert "empty file" in out["empty.jpg"]["error"]
    assert "not an image" in out["fake.jpg"]["error"]
    assert "not valid UTF-8" in out["notes.txt"]["error"]


def test_jsonl_and_csv_imports_report_bad_rows_and_resume(home, tmp_path):
    img = tmp_path / "media" / "a.png"
    img.parent.mkdir()
    img.write_bytes(to_bytes(make_poster(5), "PNG"))
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_bytes(
        b'{"id": "item-1", "media": "media/a.png", "labels": {"entity": "Group X", "outlet": "Outlet Y"}}\n'
        b'{"id": "item-2", "media": "media/missing.png"}\n'
        b'\xff\xfe{"id": "broken"}\n'
        b'{"id": "item-3", "url": "https://www.Example.com/post/1?utm_source=x"}\n'
        b'{"no_id": true}\n'
    )
    run(home, "bank", "create", "b")
    records = run(home, "bank", "import", "b", str(jsonl), "--json")
    errors = {r["item"]: r["error"] for r in records if "error" in r}
    assert records[-1]["added"] == 2 and records[-1]["errors"] == 3
    assert "cannot read file" in errors["item-2"]
    assert any("not valid UTF-8" in e for e in errors.values())

    pdq_hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    rows = ["signal_type,signal,entity,ideology"]
    rows += [f"md5,{i:032x},Group {i},x" for i in range(1, 51)]
    rows += ["pdq,not-a-hash,Group Z,y", "sha256,abc,Group Z,y", f"pdq,{pdq_hex},Group P,z", "nosuch,123,,"]
    full = tmp_path / "list.csv"
    full.write_text("\n".join(rows) + "\n")
    # An interrupted import: only the first 20 rows made it.
    partial = tmp_path / "partial.csv"
    partial.write_text("\n".join(rows[:21]) + "\n")
    assert run(home, "bank", "import", "b", str(partial), "--json")[-1]["added"] == 20
    records = run(home, "bank", "import", "b", str(full), "--json")
    summary = records[-1]
    assert (summary["added"], summary["unchanged"], summary["errors"]) == (31, 20, 3)
    bad = [r for r in records if "error" in r]
    assert any(":52" in r["item"] and "pdq must be 64 hex" in r["error"] for r in bad)
    assert any("unknown signal type 'nosuch'" in r["error"] for r in bad)
    shown = run(home, "bank", "show", "b", "--items", "200", "--json")[0]
    assert shown["items"] == 2 + 51
    labels = {i["id"]: i["labels"] for i in shown["first_items"]}
    assert labels["md5:" + f"{7:032x}"] == {"entity": "Group 7", "ideology": "x"}

    hit = run(home, "lookup", "md5", f"{7:032X}", "--json")[0]
    assert [m["bank_item"] for m in hit["matches"]] == ["md5:" + f"{7:032x}"]
    url_hit = run(home, "scan", "--text", "read this: https://example.com/post/1?utm_campaign=z.", "--json")[0]
    assert [(m["bank_item"], m["signal_type"]) for m in url_hit["matches"]] == [("item-3", "url")]


def test_scan_of_missing_path_exits_2_naming_it(home):
    run(home, "bank", "create", "b")
    out = run(home, "scan", "/no/such/place", "--json", code=2)
    assert out == [{"error": "UnreadableInput", "detail": "cannot read /no/such/place: no such file or folder", "path": "/no/such/place"}]
