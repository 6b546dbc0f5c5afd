"""The CLI's answers in a new user's first hour: errors, exit codes, tables, stdin, explanations, webhooks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmatch.cli import app
from crossmatch.samples import make_poster, to_bytes, write_text_samples

runner = CliRunner()


def invoke(home: Path, *args: str, code: int = 0, stdin: str | None = None):
    result = runner.invoke(app, ["--home", str(home), "--workers", "1", *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def records(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed entry point (crossmatch.cli:main), which turns usage errors into JSON under --json."""
    env = {**os.environ, "CROSSMATCH_HOME": str(home), "CROSSMATCH_WORKERS": "1", "COLUMNS": "200"}
    code = "import sys; from crossmatch.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def test_version_and_help_read_plainly(home):
    done = cli(home, "--version")
    assert done.returncode == 0 and done.stdout.startswith("crossmatch ")
    shown = cli(home, "bank", "create", "--help").stdout
    assert "Usage: crossmatch bank create [OPTIONS] BANK" in shown
    for tag in ("{", "<bool>", "<str>", "<list[", "<path>"):
        assert tag not in shown, tag
    assert "--kind" in shown and "block|allow" in shown


@pytest.mark.parametrize("args", [["nonsense", "--json"], ["bank", "create", "--json"], ["bank", "show", "b", "--items", "x", "--json"],
                                  ["lookup", "pdq", "abc", "--json"], ["scan", "/no/such/file.jpg", "--json"]])
def test_every_json_error_is_one_json_record(home, args):
    done = cli(home, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    record = json.loads(lines[0])
    assert set(record) >= {"error", "detail"} and record["detail"]
    assert "╭" not in done.stdout + done.stderr  # no boxed panel


def test_unreadable_inputs_exit_2_naming_the_path(home, tmp_path):
    invoke(home, "bank", "create", "b")
    missing = tmp_path / "typo" / "known"
    for args in (["scan", str(missing)], ["hash", str(missing)], ["bank", "import", "b", str(missing)]):
        result = invoke(home, *args, code=2)
        assert str(missing) in result.output and "no such file or folder" in result.output
    not_stix = tmp_path / "items.json"
    not_stix.write_text('{"id": "x", "text": "hello"}')
    result = invoke(home, "bank", "import", "b", str(not_stix), code=2)
    assert "only as a STIX 2.1 bundle" in result.output and ".jsonl" in result.output
    assert records(invoke(home, "bank", "show", "b", "--json"))[0]["items"] == 0
    assert "nothing to scan" in invoke(home, "scan", code=2).output


def test_validation_messages_state_the_rule(home):
    result = invoke(home, "bank", "create", "Bad Name", code=2)
    assert "bank name 'Bad Name' is not valid: use 1-200 letters, digits" in result.output
    assert "pydantic" not in result.output and "http" not in result.output
    result = invoke(home, "bank", "create", "ok", "--threshold", "pdq=near", code=2)
    assert "the threshold must be a number" in result.output


def test_bank_tables_read_as_tables_not_python(home, tmp_path):
    invoke(home, "bank", "create", "posters", "--label", "source=demo", "--threshold", "pdq=24")
    folder = tmp_path / "known"
    folder.mkdir()
    (folder / "a.png").write_bytes(to_bytes(make_poster(1), "PNG"))
    invoke(home, "bank", "import", "posters", str(folder))
    outputs = [invoke(home, "bank", "list").stdout, invoke(home, "bank", "show", "posters").stdout,
               invoke(home, "bank", "set", "posters", "--threshold", "md5=0").stdout, invoke(home, "bank", "item", "posters", "a.png").stdout]
    for shown in outputs:
        assert "{'" not in shown and "': " not in shown, shown
    assert "pdq=24" in outputs[0] and "source=demo" in outputs[1] and "a.png" in outputs[1]
    assert "pdq=24, md5=0" in outputs[2]
    assert "nothing to change" in invoke(home, "bank", "set", "posters", code=2).output


def test_stix_bundle_import_keeps_indicator_names(home, tmp_path):
    invoke(home, "bank", "create", "cti")
    md5 = "e653a0522f95d6b5d0b7cfc5bc497f21"
    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--a4d70b75-6f4a-5d19-9137-da863edd33d7",
                 "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "valid_from": "2024-01-01T00:00:00Z",
                 "name": "Poster 00 of the sample set", "pattern_type": "stix", "pattern": f"[file:hashes.MD5 = '{md5}']"}
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [indicator]}))
    assert records(invoke(home, "bank", "import", "cti", str(bundle), "--json"))[-1]["added"] == 1
    item = records(invoke(home, "bank", "item", "cti", indicator["id"], "--json"))[0]
    assert item["labels"]["name"] == "Poster 00 of the sample set"
    assert [(s["type"], s["value"]) for s in item["signals"]] == [("md5", md5)]  # the indicator's hash, not the file's


def test_stdin_paths_and_jsonl_records(home, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(to_bytes(make_poster(2), "PNG"))
    stdin = f"{image}\n" + json.dumps({"id": "post-1", "text": "A short post about the weather in spring, with rain."}) + "\n{broken\n"
    out = {r["item"]: r for r in records(invoke(home, "hash", "-", "--json", stdin=stdin))}
    assert {s["type"] for s in out[str(image)]["signals"]} >= {"pdq", "md5"}
    assert {s["type"] for s in out["post-1"]["signals"]} >= {"text_near"}
    assert "not valid JSON" in out["stdin:3"]["error"]
    invoke(home, "bank", "create", "b")
    assert records(invoke(home, "bank", "import", "b", "-", "--json", stdin=f"{image}\n"))[-1]["added"] == 1
    hit = records(invoke(home, "scan", "-", "--json", stdin=f"{image}\n"))[0]
    assert [m["bank_item"] for m in hit["matches"] if m["signal_type"] == "pdq"] == [str(image)]
    text = records(invoke(home, "hash", "--text", "Hello there, this is a text with a few words.", "--json"))[0]
    assert text["item"] == "text:1" and text["error"] is None and text["signals"]


def test_a_corrupt_image_reports_its_error_once(home, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"garbage" * 10)
    invoke(home, "bank", "create", "b")
    result = records(invoke(home, "scan", str(bad), "--json"))[0]
    assert result["error"]
    assert not any(result["error"] in w or w in result["error"] for w in result.get("warnings", []))
    shown = invoke(home, "scan", str(bad)).stdout
    assert shown.count("not an image") == 1 and shown.count(str(bad)) == 1, shown


def test_text_matches_and_near_misses_are_explained_in_words(home, tmp_path):
    bank_file, incoming = write_text_samples(tmp_path / "texts")
    invoke(home, "bank", "create", "texts")
    invoke(home, "bank", "import", "texts", str(bank_file))
    shown = invoke(home, "scan", str(incoming)).stdout
    assert "4 of 4 bank sentences aligned" in shown and "ru→ar" in shown and "strongest pair" in shown
    assert "text_xling score:" in shown  # what a score above 1 means
    one_sentence = "Центральная городская библиотека объявила, что с первого марта будет открыта с восьми утра до десяти вечера."
    missed = invoke(home, "scan", "--text", one_sentence).stdout
    assert "no match" in missed and "closest: texts/notice-library" in missed
    assert "1 aligned sentence" in missed and "an excerpt usually needs 2" in missed


def test_webhook_create_list_delete(home):
    created = records(invoke(home, "webhook", "create", "platform", "--url", "https://platform.example/hook",
                             "--event", "decision", "--event", "match.review", "--json"))[0]
    assert created["events"] == ["decision", "match.review"] and len(created["secret"]) >= 16
    listed = records(invoke(home, "webhook", "list", "--json"))
    assert [(h["name"], h["url"]) for h in listed] == [("platform", "https://platform.example/hook")]
    assert "secret" not in listed[0]
    assert "must be an absolute http(s) URL" in invoke(home, "webhook", "create", "x", "--url", "ftp://nope", code=2).output
    invoke(home, "webhook", "delete", "platform")
    assert records(invoke(home, "webhook", "list", "--json")) == []
    audit = records(invoke(home, "audit", "--json"))
    assert {"webhook.create", "webhook.delete"} <= {r["action"] for r in audit}


def test_exchange_add_refuses_a_missing_file(home, tmp_path):
    invoke(home, "bank", "create", "gifct")
    result = invoke(home, "exchange", "add", "list", "--kind", "file", "--bank", "gifct", "-c", f"path={tmp_path / 'nope.csv'}", code=2)
    assert "no such file" in result.output and "nope.csv" in result.output
    result = invoke(home, "exchange", "add", "list", "--kind", "file", "--bank", "nobank", "-c", f"path={tmp_path}", code=2)
    assert "not a file" in result.output or "no bank named" in result.output


def test_help_lists_the_kinds_and_formats_the_code_has():
    from crossmatch.cli import exchange as exchange_cli
    from crossmatch.exchange.export import FORMATS
    from crossmatch.exchange.service import KINDS

    assert exchange_cli.KINDS == KINDS and exchange_cli.FORMATS == FORMATS


def test_a_text_near_near_miss_says_how_much_wording_is_shared(home, tmp_path):
    whole = ("We the People of the United States, in Order to form a more perfect Union, establish Justice, insure domestic "
             "Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings of Liberty "
             "to ourselves and our Posterity, do ordain and establish this Constitution for the United States of America.")
    signal = [s for s in records(invoke(home, "hash", "--text", whole, "--json"))[0]["signals"] if s["type"] == "text_near"][0]
    hash_list = tmp_path / "list.csv"
    hash_list.write_text(f"signal_type,signal,id\ntext_near,{signal['value']},preamble\n")
    invoke(home, "bank", "create", "texts")
    invoke(home, "bank", "import", "texts", str(hash_list))
    shown = invoke(home, "scan", "--text", "We the People of the United States, in Order to form a more perfect Union, establish Justice").stdout
    assert "no match" in shown and "closest: texts/preamble (text_near score 0.2" in shown
    assert "of character shingles shared; a near copy in the same language shares at least 30%" in shown
