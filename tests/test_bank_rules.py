"""Bank rules enforced by BankService for every caller (CLI, API, HMA routes, exchanges, review), on SQLite
and PostgreSQL: thresholds within each type's range, known options, valid policies; re-imports and
sources never re-enable a disabled item (issue 15 finding 10); concurrent imports of overlapping ids
(finding 15)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.cli import app
from crossmatch.errors import InvalidInput
from crossmatch.exchange.service import ExchangeService
from crossmatch.signals.base import Signal
from test_api_support import api, unique  # noqa: F401  (fixture)
from workflow_support import start_together

MD5_A = "0" * 31 + "a"
MD5_B = "0" * 31 + "b"


def _md5(i: int) -> str:
    return hashlib.md5(f"item-{i}".encode()).hexdigest()


# -- thresholds, options, policies ----------------------------------------------------
@pytest.mark.parametrize("thresholds, rule", [
    ({"pdq": -5}, r"pdq=-5 is out of range: pdq is a distance type, so its threshold must be between 0 and 64"),
    ({"pdq": 65}, r"between 0 and 64"),
    ({"md5": 1}, r"md5 is a distance type, so its threshold must be between 0 and 0"),
    ({"text_near": 0.01}, r"text_near is a score type whose index answers scores from 0.1 up"),
    ({"pdq": float("nan")}, r"must be a finite number"),
    ({"nosuch": 3}, r"unknown signal type 'nosuch'"),
])
def test_thresholds_out_of_range_are_refused_on_create_and_update(ctx, thresholds, rule) -> None:
    with pytest.raises(InvalidInput, match=rule):
        ctx.banks.create_bank(BankSpec(name="b", thresholds=thresholds))
    with pytest.raises(Exception):
        ctx.banks.get_bank("b")  # nothing was created
    ctx.banks.create_bank(BankSpec(name="b", thresholds={"pdq": 31, "text_near": 0.3}))
    with pytest.raises(InvalidInput, match=rule):
        ctx.banks.update_bank("b", thresholds=thresholds)
    assert ctx.banks.get_bank("b").thresholds == {"pdq": 31.0, "text_near": 0.3}


def test_options_and_policies_are_checked_and_stored_in_full(ctx) -> None:
    bank = ctx.banks.create_bank(BankSpec(name="b", options={"policy": "auto", "ocr": False}))
    assert bank.options == {"policy": {"on_match": "auto", "auto_max_distance": None, "auto_min_score": None}, "ocr": False}
    for options, rule in [
        ({"policy": "sometimes"}, r"policy is not valid \(value: Input should be a valid dictionary"),
        ({"policy": {"on_match": "never"}}, r"policy is not valid \(on_match: Input should be 'review', 'auto' or 'none'\)"),
        ({"policy": {"on_match": "auto", "auto_max_distance": -1}}, r"auto_max_distance must be 0 or more"),
        ({"policy": {"on_match": "auto", "extra": 1}}, r"policy is not valid \(extra"),
        ({"ocr": "yes"}, r"ocr='yes' is not valid: it must be true or false"),
        ({"hma_enabled_ratio": 2}, r"between 0 and 1"),
        ({"fast": True}, r"unknown bank option\(s\) \['fast'\]; known options: hma_enabled_ratio, ocr, policy"),
    ]:
        with pytest.raises(InvalidInput, match=rule):
            ctx.banks.update_bank("b", options=options)
    assert ctx.banks.get_bank("b").options["ocr"] is False
    for value in (True, "31", None):  # what a caller passing raw JSON could send
        with pytest.raises(InvalidInput, match="must be a finite number"):
            ctx.banks.update_bank("b", thresholds={"pdq": value})


def test_cli_bank_set_refuses_a_bad_threshold_naming_the_rule(tmp_path) -> None:
    home = ["--home", str(tmp_path / "home"), "--workers", "1"]
    runner = CliRunner()
    assert runner.invoke(app, [*home, "bank", "create", "b"]).exit_code == 0
    bad = runner.invoke(app, [*home, "bank", "set", "b", "--option", "policy=auto", "--threshold", "pdq=-5", "--json"])
    assert bad.exit_code == 2
    detail = json.loads(bad.stdout)["detail"]
    assert "pdq=-5 is out of range" in detail and "between 0 and 64" in detail
    good = runner.invoke(app, [*home, "bank", "set", "b", "--option", "policy=auto", "--threshold", "pdq=20", "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["options"]["policy"]["on_match"] == "auto"


def test_api_refuses_bad_thresholds_and_options_with_422(api) -> None:
    c, cur = api.client, api.h("curator")
    name = unique()
    assert c.post("/api/v1/banks", json={"name": name, "thresholds": {"pdq": -5}}, headers=cur).status_code == 422
    assert c.post("/api/v1/banks", json={"name": name}, headers=cur).status_code == 201
    bad = c.patch(f"/api/v1/banks/{name}", json={"options": {"policy": "sometimes"}}, headers=cur)
    assert bad.status_code == 422 and "policy" in bad.json()["detail"]
    bad = c.patch(f"/api/v1/banks/{name}", json={"options": {"ocr": "maybe"}}, headers=cur)
    assert bad.status_code == 422 and "ocr='maybe' is not valid" in bad.json()["detail"]
    # The HMA curation routes go through the same rules.
    hma = c.put(f"/c/bank/{name}", json={"enabled_ratio": 0.5}, headers=cur)
    assert hma.status_code == 200 and hma.json()["matching_enabled_ratio"] == 0.5


# -- a re-import keeps a curator's disable; sources can only disable -------------------------
def test_reimport_keeps_a_curators_disable(ctx) -> None:
    ctx.banks.create_bank(BankSpec(name="b"))
    item = ItemUpsert("x", [Signal("md5", MD5_A)], {"entity": "E"})
    assert ctx.banks.upsert_items("b", [item]) == ["added"]
    ctx.banks.set_item_enabled("b", "x", False)
    assert ctx.banks.upsert_items("b", [item]) == ["unchanged"]
    assert ctx.banks.get_item("b", "x")[0].enabled is False
    changed = ItemUpsert("x", [Signal("md5", MD5_B)], {"entity": "F"})
    assert ctx.banks.upsert_items("b", [changed]) == ["updated"]
    stored, signals = ctx.banks.get_item("b", "x")
    assert stored.enabled is False and stored.labels == {"entity": "F"} and [s.value for s in signals] == [MD5_B]
    ctx.banks.set_item_enabled("b", "x", True)  # only a curator enables
    assert ctx.banks.get_item("b", "x")[0].enabled is True


def test_a_source_can_disable_but_never_enable(ctx) -> None:
    ctx.banks.create_bank(BankSpec(name="b"))
    ctx.banks.upsert_items("b", [ItemUpsert("x", [Signal("md5", MD5_A)]), ItemUpsert("y", [Signal("md5", MD5_B)], enabled=False)])
    assert [ctx.banks.get_item("b", i)[0].enabled for i in ("x", "y")] == [True, False]
    assert ctx.banks.upsert_items("b", [ItemUpsert("x", [Signal("md5", MD5_A)], enabled=False)]) == ["updated"]
    assert ctx.banks.upsert_items("b", [ItemUpsert("x", [Signal("md5", MD5_A)], enabled=True),
                                        ItemUpsert("y", [Signal("md5", MD5_B)], enabled=True)]) == ["unchanged", "unchanged"]
    assert [ctx.banks.get_item("b", i)[0].enabled for i in ("x", "y")] == [False, False]


def test_file_exchange_resync_keeps_a_curators_disable(ctx, tmp_path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("signal_type,signal,id\n" + "".join(f"md5,{_md5(i)},item-{i}\n" for i in range(5)))
    ctx.banks.create_bank(BankSpec(name="b"))
    service = ExchangeService(ctx)
    service.add("f", "file", "b", {"path": str(path)})
    assert service.sync("f").added == 5
    ctx.banks.set_item_enabled("b", "item-2", False)
    again = service.sync("f")  # the same list again, as a scheduled file exchange does
    assert again.complete and again.unchanged == 5 and again.updated == 0
    assert [i.external_id for i in ctx.banks.list_items("b") if not i.enabled] == ["item-2"]


def test_cli_reimport_keeps_a_curators_disable(tmp_path) -> None:
    home = ["--home", str(tmp_path / "home"), "--workers", "1"]
    path = tmp_path / "list.csv"
    path.write_text("signal_type,signal,id\n" + "".join(f"md5,{_md5(i)},item-{i}\n" for i in range(3)))
    runner = CliRunner()
    assert runner.invoke(app, [*home, "bank", "create", "b"]).exit_code == 0
    assert runner.invoke(app, [*home, "bank", "import", "b", str(path)]).exit_code == 0
    from crossmatch.context import open_context
    from crossmatch.settings import Settings

    with open_context(Settings.load(home=tmp_path / "home", workers=1)) as ctx:
        ctx.banks.set_item_enabled("b", "item-1", False)
    out = runner.invoke(app, [*home, "bank", "import", "b", str(path), "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout.splitlines()[-1])["unchanged"] == 3
    with open_context(Settings.load(home=tmp_path / "home", workers=1)) as ctx:
        assert [i.external_id for i in ctx.banks.list_items("b") if not i.enabled] == ["item-1"]


def test_item_ids_over_500_characters_are_refused_by_name(ctx) -> None:
    ctx.banks.create_bank(BankSpec(name="b"))
    with pytest.raises(InvalidInput, match="is 501 characters; ids may have at most 500"):
        ctx.banks.upsert_items("b", [ItemUpsert("x" * 501, [Signal("md5", MD5_A)])])


# -- concurrent imports of overlapping ids ---------------------------------------------------
IMPORTER = r"""
import sys, time
from pathlib import Path
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import open_context
from crossmatch.settings import Settings
from crossmatch.signals.base import Signal
import hashlib

home, url, me, go = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), Path(sys.argv[4])
with open_context(Settings.load(home=home, database_url=url, workers=1)) as ctx:
    Path(f"{go}.ready{me}").touch()
    while not go.exists():
        time.sleep(0.005)
    for start in range(0, 300, 10):  # the same ids in the same small batches: the imports collide
        ctx.banks.upsert_items("b", [ItemUpsert(f"item-{i}", [Signal("md5", hashlib.md5(f"item-{i}".encode()).hexdigest())],
                                                {"by": "importer"}) for i in range(start, start + 10)])
"""


@pytest.mark.slow  # three importer processes start up
def test_concurrent_imports_of_overlapping_ids_all_succeed(ctx, tmp_path, database_url) -> None:
    ctx.banks.create_bank(BankSpec(name="b"))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", IMPORTER, str(ctx.settings.home), database_url or "", str(n), str(go)],
                              stderr=subprocess.PIPE) for n in range(3)]
    start_together(procs, go)
    errors = [p.stderr.read().decode()[-1500:] for p in procs if p.wait() != 0]
    assert errors == []
    assert ctx.banks.bank_stats(ctx.banks.get_bank("b").id) == {"items": 300, "signals": {"md5": 300}}
    added, removed, _ = ctx.banks.changes_since("md5", 0)
    assert len(added) == 300 and removed == []  # each signal logged once, never replaced by a racing import
