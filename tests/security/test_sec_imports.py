"""Issue 15 finding 1: imports never read server paths named by uploaded records.

The upload guard and the importer read JSONL through one parser (``items.iter_records``),
uploads get ``NO_MEDIA`` (nothing on the server's disk is read), and the CLI reads media only
as regular files under its import root.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmatch.cli import app
from crossmatch.items import NO_MEDIA, ItemError, MediaRoot, content_from_file, iter_records
from crossmatch.samples import make_poster, to_bytes
from test_api_support import api, unique  # noqa: F401  (fixture)

runner = CliRunner()

# JSON treats a bare CR as whitespace, bytes.splitlines() as a line end: the guard and the
# importer once disagreed on where this record starts.
CR_RECORDS = [
    b'{"id":"p",\r"media":"/etc/passwd"}\n',
    b'{"id":"z",\r"media":"/dev/zero"}\n',
    b'{"id":"q", "text": "fine"}\r{"id":"r",\r"media":"/etc/hostname"}\n',
]


def cli(home: Path, *args: str, code: int = 0) -> list[dict]:
    result = runner.invoke(app, ["--home", str(home), "--workers", "1", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("body", CR_RECORDS, ids=["passwd", "dev-zero", "two-records-one-line"])
def test_http_import_of_cr_separated_media_records_reads_nothing(api, body):  # noqa: F811
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("items.jsonl", body, "application/jsonl")}, headers=cur)
    if r.status_code == 200:  # two objects on one LF line: one unparseable line, reported, nothing read
        assert r.json()["added"] == 0 and "not valid JSON" in r.json()["errors"][0]["error"], r.text
    else:
        assert r.status_code == 422, r.text
        assert "items.jsonl:1" in r.json()["detail"] and "only text or url" in r.json()["detail"]
    assert c.get(f"/api/v1/banks/{name}", headers=cur).json()["items"] == 0


def test_guard_and_importer_read_the_same_records():
    # One parser: the CR record is one record whose "media" the guard sees.
    records = list(iter_records(io.BytesIO(b"".join(CR_RECORDS)), "up.jsonl"))
    assert [where for where, _ in records] == ["up.jsonl:1", "up.jsonl:2", "up.jsonl:3"]
    assert [r["media"] for _, r in records[:2]] == ["/etc/passwd", "/dev/zero"]
    assert isinstance(records[2][1], ItemError) and "not valid JSON" in records[2][1].error


def test_uploads_read_no_media_at_all(tmp_path):
    (tmp_path / "a.png").write_bytes(to_bytes(make_poster(1), "PNG"))
    refused = NO_MEDIA.read("a.png", "x", {})
    assert isinstance(refused, ItemError) and "only text or url" in refused.error


def test_media_root_reads_only_regular_files_under_it(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.png").write_bytes(to_bytes(make_poster(1), "PNG"))
    (root / "link").symlink_to("/etc/passwd")
    os.mkfifo(root / "pipe")
    media = MediaRoot(root)
    assert not isinstance(media.read("a.png", "ok", {}), ItemError)
    for path, reason in [("/etc/passwd", "outside the import root"), ("../root/../../etc/passwd", "outside the import root"),
                         ("link", "outside the import root"), ("pipe", "not a regular file"), (".", "cannot read file")]:
        out = media.read(path, "x", {})
        assert isinstance(out, ItemError) and reason in out.error, (path, out)
    devroot = MediaRoot(Path("/dev"))
    out = devroot.read("zero", "z", {})  # a device under the root: refused before any read
    assert isinstance(out, ItemError) and "not a regular file" in out.error


def test_a_device_named_as_a_file_is_never_read():
    out = content_from_file(Path("/dev/zero"))
    assert isinstance(out, ItemError) and "not a regular file" in out.error


def test_cli_import_confines_media_to_the_root(tmp_path):
    home = tmp_path / "home"
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "a.png").write_bytes(to_bytes(make_poster(2), "PNG"))
    jsonl = lists / "items.jsonl"
    jsonl.write_bytes(b'{"id": "ok", "media": "a.png"}\n'
                      b'{"id": "passwd",\r"media": "/etc/passwd"}\n'
                      b'{"id": "zero", "media": "/dev/zero"}\n'
                      b'{"id": "up", "media": "../../../../etc/hostname"}\n')
    cli(home, "bank", "create", "b")
    out = cli(home, "bank", "import", "b", str(jsonl), "--json")
    errors = {r["item"]: r["error"] for r in out if "error" in r}
    assert out[-1]["added"] == 1 and set(errors) == {"passwd", "zero", "up"}
    assert all("outside the import root" in e for e in errors.values())
    # --media-root elsewhere: the list's own folder is no longer readable.
    other = tmp_path / "other"
    other.mkdir()
    out = cli(home, "bank", "import", "b", str(jsonl), "--media-root", str(other), "--json")
    assert out[-1]["errors"] == 4
    # A root of / still never reads a device.
    out = cli(home, "bank", "import", "b", str(jsonl), "--media-root", "/", "--json")
    errors = {r["item"]: r["error"] for r in out if "error" in r}
    assert "not a regular file" in errors["zero"]
