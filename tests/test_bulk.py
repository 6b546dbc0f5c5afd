"""Bulk load of hash lists (issue 18): `bank import` of a CSV goes through a staging table in one
transaction (PostgreSQL COPY, SQLite executemany); reruns neither duplicate nor drop; a changed
row updates its item; bad rows are reported per row; the index sees the whole list."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from crossmatch.context import open_context
from crossmatch.signals.base import Signal
from crossmatch.store.models import BankItem, SignalChange, SignalRow

CROSSMATCH = str(Path(sys.executable).with_name("crossmatch"))


def md5(i: int) -> str:
    return hashlib.md5(i.to_bytes(8, "little")).hexdigest()


def write_list(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("signal_type,signal,id,entity\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def cli(settings, *args: str) -> dict:
    """The command's summary (last JSON line), with the per-row errors printed before it."""
    cmd = [CROSSMATCH, "--home", str(settings.home)]
    if settings.database_url:
        cmd += ["--database-url", settings.database_url]
    done = subprocess.run([*cmd, *args, "--json"], capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    return {**lines[-1], "errors": lines[:-1]}


def counts(settings) -> tuple[int, int, int]:
    with open_context(settings) as ctx, ctx.sessions() as s:
        return (s.scalar(select(func.count()).select_from(BankItem)), s.scalar(select(func.count()).select_from(SignalRow)),
                s.scalar(select(func.count()).select_from(SignalChange)))


def test_bank_import_bulk_loads_reruns_and_updates(settings, tmp_path):
    rows = [["md5", md5(i), f"item-{i}", "Entity A"] for i in range(1200)]
    rows += [["md5", md5(5000), "item-0", "Entity A"]]  # a second signal for item-0 (same id later in the list)
    rows += [["md5", "not-a-hash", "bad-1", "x"], ["pdq", "0" * 64, "flat-1", "x"]]
    path = write_list(tmp_path / "list.csv", rows)
    cli(settings, "bank", "create", "shared")
    first = cli(settings, "bank", "import", "shared", str(path))
    assert first["added"] == 1201 and first["updated"] == 0
    assert [e["item"] for e in first["errors"]] == [f"{path}:1203"]  # the bad row, named by line
    assert counts(settings) == (1201, 1202, 1202)

    again = cli(settings, "bank", "import", "shared", str(path))  # a rerun changes nothing
    assert again["added"] == 0 and again["unchanged"] == 1201
    assert counts(settings) == (1201, 1202, 1202)

    rows[1][3] = "Entity B"  # a changed label updates that item only
    rows[2][1] = md5(9999)  # a changed signal replaces the item's signal
    write_list(path, rows)
    third = cli(settings, "bank", "import", "shared", str(path))
    assert third["updated"] == 2 and third["unchanged"] == 1199

    with open_context(settings) as ctx:
        item, _ = ctx.banks.get_item("shared", "item-1")
        assert item.labels["entity"] == "Entity B"
        assert ctx.banks.get_item("shared", "flat-1")[0].labels["low_information"].startswith("pdq hash has 0 of 256")
        assert [m.bank_item for m in ctx.engine.lookup([Signal("md5", md5(9999))])] == ["item-2"]
        assert ctx.engine.lookup([Signal("md5", md5(2))]) == []
        assert [m.bank_item for m in ctx.engine.lookup([Signal("md5", md5(5000))])] == ["item-0"]
        assert len(ctx.engine.lookup([Signal("md5", md5(1199))])) == 1
