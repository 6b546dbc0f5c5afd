"""File and STIX exchanges: crash between bank and checkpoint, resume, bad input, scheduler, reference data, CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crossmatch.banks.schemas import BankSpec
from crossmatch.exchange.models import ExchangeItem
from crossmatch.exchange.scheduler import run_due
from crossmatch.exchange.service import ExchangeService
from crossmatch.exchange.sync import Syncer
from crossmatch.signals.base import Content


class Crash(BaseException):
    """Stands in for the process dying (not an Exception, so nothing catches it)."""


def _md5(i: int) -> str:
    return hashlib.md5(f"item-{i}".encode()).hexdigest()


def _csv(path: Path, ids: range, extra: str = "") -> Path:
    rows = ["signal_type,signal,id,entity,category"] + [f"md5,{_md5(i)},item-{i},Example Entity {i % 3},test" for i in ids]
    path.write_text("\n".join(rows) + "\n" + extra)
    return path


def _state(ctx, bank: str) -> dict[str, tuple]:
    out = {}
    for item in ctx.banks.list_items(bank, limit=10_000):
        out[item.external_id] = (item.enabled, item.labels.get("entity"))
    return out


def _signal_count(ctx) -> int:
    return sum(ctx.banks.bank_stats(b.id)["items"] for b in ctx.banks.list_banks())


def test_crash_between_bank_and_checkpoint_replays_without_duplicates(ctx, tmp_path, monkeypatch):
    path = _csv(tmp_path / "list.csv", range(250))
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("f", "file", "b", {"path": str(path), "batch": 100})
    real_save = Syncer._save
    saves = {"n": 0}

    def crashing_save(self, exchange_id, state, run=None, mapping=None):
        if mapping is not None:
            saves["n"] += 1
            if saves["n"] == 2:
                raise Crash()  # the second delta is in the bank, its checkpoint is not
        return real_save(self, exchange_id, state, run, mapping)

    monkeypatch.setattr(Syncer, "_save", crashing_save)
    with pytest.raises(Crash):
        service.sync("f")
    monkeypatch.setattr(Syncer, "_save", real_save)
    assert ctx.banks.bank_stats(ctx.banks.get_bank("b").id)["items"] == 200
    assert service.get("f").checkpoint["cp"]["offset"] < path.stat().st_size

    report = service.sync("f")
    assert report.complete and report.added == 50 and report.unchanged == 100 and report.removed == 0
    stats = ctx.banks.bank_stats(ctx.banks.get_bank("b").id)
    assert stats == {"items": 250, "signals": {"md5": 250}}
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeItem)) == 250
    _, signals = ctx.banks.get_item("b", "item-123")
    assert [s.value for s in signals] == [_md5(123)]


def test_stop_resume_then_source_removes_and_changes_items(ctx, tmp_path):
    path = _csv(tmp_path / "list.csv", range(250))
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("f", "file", "b", {"path": str(path), "batch": 100})
    first = service.sync("f", max_deltas=1)
    assert not first.complete and first.added == 100
    second = service.sync("f")
    assert second.complete and second.added == 150 and second.unchanged == 0
    # The list drops items 200.. and relabels item-0.
    rows = path.read_text().splitlines()[: 201]
    rows[1] = rows[1].replace("Example Entity 0", "Example Entity Z")
    path.write_text("\n".join(rows) + "\n")
    third = service.sync("f")
    assert third.complete and third.removed == 50 and third.updated == 1
    state = _state(ctx, "b")
    assert len(state) == 250 and sum(enabled for enabled, _ in state.values()) == 200
    assert state["item-0"] == (True, "Example Entity Z") and state["item-249"][0] is False
    assert [s["exchange"] for s in service.item_sources("b", "item-249")] == ["f"]


def test_bad_rows_are_named_and_the_batch_goes_on(ctx, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "signal_type,signal,id,entity,extra_labels\n"
        f"md5,{_md5(1)},ok-1,Example Entity,\n"
        "md5,not-a-hash,bad-hash,Example Entity,\n"
        f"md5,{_md5(2)},too,many,columns,here\n"
        f"pdq,{'0' * 63},short-pdq,,\n"
        f"nosuchtype,abc,bad-type,,\n"
        f"md5,{_md5(3)},bad-extra,,{{not json\n"
        f"md5,{_md5(4)},formula,=cmd|' /C calc'!A0,\n"
        f"md5,{_md5(5)},ok-5,,\n"
    )
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("f", "file", "b", {"path": str(path)})
    report = service.sync("f")
    assert report.complete and report.added == 3
    errors = {e.item: e.error for e in report.errors}
    assert "md5 must be 32 hex characters" in errors["bad-hash"]
    assert "row has 6 columns, the header has 5" in errors["bad.csv:4"]
    assert "pdq" in errors["short-pdq"] and "nosuchtype" in errors["bad-type"]
    assert "extra_labels is not a JSON object" in errors["bad.csv:7"]
    assert [w.item for w in report.warnings] == ["formula"]
    item, _ = ctx.banks.get_item("b", "formula")
    assert item.labels["entity"] == "=cmd|' /C calc'!A0"  # kept as text; CSV export escapes it


def test_broken_files_fail_clearly_and_never_sweep_the_bank(ctx, tmp_path):
    path = tmp_path / "list.jsonl"
    lines = [json.dumps({"id": f"item-{i}", "signals": [{"type": "md5", "value": _md5(i)}], "labels": {"entity": "E"}}) for i in range(10)]
    path.write_text("\n".join(lines) + "\n")
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("f", "file", "b", {"path": str(path)})
    assert service.sync("f").added == 10

    path.write_text("\n".join(lines[:6]) + "\n" + lines[6][:25])  # cut off mid-line
    report = service.sync("f")
    assert report.error and "truncated" in report.error and not report.complete
    assert all(enabled for enabled, _ in _state(ctx, "b").values())  # nothing swept
    assert service.get("f").last_error == report.error

    path.write_text("signal,id\nabc,1\n")
    service.update("f", config={"path": str(path), "format": "csv"})
    report = service.sync("f")
    assert "lacks column(s) ['signal_type']" in report.error
    assert all(enabled for enabled, _ in _state(ctx, "b").values())

    path.write_text("\n".join(lines[:8]) + "\n")
    service.update("f", config={"path": str(path)})
    report = service.sync("f")
    assert report.complete and report.removed == 2
    assert sum(enabled for enabled, _ in _state(ctx, "b").values()) == 8


def test_invalid_stix_objects_are_reported_and_valid_ones_imported(ctx, tmp_path):
    good = {"type": "indicator", "spec_version": "2.1", "id": "indicator--a4d70b75-6f4a-5d19-9137-da863edd33d7",
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "valid_from": "2024-01-01T00:00:00Z",
            "pattern_type": "stix", "pattern": f"[file:hashes.MD5 = '{_md5(1)}' OR file:hashes.'SHA-256' = '{hashlib.sha256(b'x').hexdigest()}']",
            "labels": ["propaganda"]}
    actor = {"type": "intrusion-set", "spec_version": "2.1", "id": "intrusion-set--0c7e22ad-b099-4dc3-b0df-2ea3f49ae2e6",
             "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "name": "Example Entity A"}
    rel = {"type": "relationship", "spec_version": "2.1", "id": "relationship--2f9a9aa9-108a-4333-83e2-4fb25add0463",
           "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "relationship_type": "indicates",
           "source_ref": good["id"], "target_ref": actor["id"]}
    bad_pattern = {**good, "id": "indicator--0d7a5c5e-2a0b-4ae4-9f0c-4b5c64c9f0a1", "pattern": "[file:hashes.MD5 = "}
    no_hash = {**good, "id": "indicator--1d7a5c5e-2a0b-4ae4-9f0c-4b5c64c9f0a1", "pattern": "[ipv4-addr:value = '198.51.100.1']"}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                                "objects": [good, actor, rel, bad_pattern, no_hash, {"type": "indicator"}]}))
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("s", "stix", "b", {"path": str(path)})
    report = service.sync("s")
    assert report.complete and report.added == 1
    errors = {e.item: e.error for e in report.errors}
    assert "invalid STIX object" in errors[bad_pattern["id"]] and "no file hash or URL" in errors[no_hash["id"]]
    assert "object #5" in errors
    item, signals = ctx.banks.get_item("b", good["id"])
    assert item.labels["entity"] == "Example Entity A" and item.labels["tags"] == ["propaganda"]
    assert sorted(s.type for s in signals) == ["md5", "sha256"]
    path.write_text("{not json")
    assert "not JSON" in service.sync("s").error


def test_scheduler_syncs_due_exchanges_once_per_interval(ctx, tmp_path):
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("due", "file", "b", {"path": str(_csv(tmp_path / "a.csv", range(5)))}, interval_seconds=60)
    service.add("manual", "file", "b", {"path": str(_csv(tmp_path / "b.csv", range(5, 9)))}, interval_seconds=0)
    now = datetime.now(timezone.utc)
    assert [r.exchange for r in run_due(ctx, now)] == ["due"]
    assert run_due(ctx, now + timedelta(seconds=30)) == []
    assert [r.unchanged for r in run_due(ctx, now + timedelta(seconds=61))] == [5]
    assert ctx.banks.bank_stats(ctx.banks.get_bank("b").id)["items"] == 5


def test_sample_exchange_signals_match_the_threatexchange_reference_images(ctx, evaldata):
    ctx.banks.create_bank(BankSpec(name="sample"))
    service = ExchangeService(ctx)
    service.add("pytx-sample", "pytx", "sample", {"api": "sample"})
    report = service.sync("pytx-sample")
    assert report.complete and report.added >= 16
    assert all("raw_text" in e.error or "url" in e.item for e in report.errors)
    root = evaldata / "threatexchange-pdq-vpdq-tmk"
    for name in ("bridge-mods/aaa-orig.jpg", "bridge-mods/blur-a-little.jpg", "misc-images/c.png", "misc-images/wee.jpg"):
        result = ctx.engine.scan(Content(item=name, kind="image", data=(root / name).read_bytes()))
        pdq = [m for m in result.matches if m.signal_type == "pdq" and m.bank == "sample"]
        assert pdq, f"{name} should match the sample exchange's PDQ signals"
        assert pdq[0].item_labels["source"] == "pytx-sample"
    other = ctx.engine.scan(Content(item="pen", kind="image", data=(root / "reg-test-input/pen-and-coaster.png").read_bytes()))
    assert not [m for m in other.matches if m.signal_type == "pdq"]


def test_cli_add_sync_export_json(tmp_path):
    from crossmatch.cli import app

    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    path = _csv(tmp_path / "list.csv", range(3))
    assert runner.invoke(app, [*home, "bank", "create", "b"]).exit_code == 0
    added = runner.invoke(app, [*home, "exchange", "add", "f", "--kind", "file", "--bank", "b", "-c", f"path={path}", "--json"])
    assert added.exit_code == 0 and json.loads(added.stdout)["config"]["path"] == str(path)
    synced = runner.invoke(app, [*home, "exchange", "sync", "f", "--json"])
    assert synced.exit_code == 0 and json.loads(synced.stdout)["added"] == 3
    out = tmp_path / "out.jsonl"
    exported = runner.invoke(app, [*home, "exchange", "export", "b", "--format", "jsonl", "-o", str(out), "--json"])
    assert exported.exit_code == 0 and json.loads(exported.stdout)["items"] == 3 and len(out.read_text().splitlines()) == 3
    missing = runner.invoke(app, [*home, "exchange", "sync", "nope", "--json"])
    assert missing.exit_code == 2 and "crossmatch exchange list" in json.loads(missing.stdout)["detail"]
    path.write_text("oops\n")
    failed = runner.invoke(app, [*home, "exchange", "sync", "f", "--json"])
    assert failed.exit_code == 1 and "lacks column" in json.loads(failed.stdout)["error"]
