"""Flood quarantine (issue 18): a bank signal that suddenly matches many uploads opens one grouped
case and takes no auto action until a curator decides; `signal.quarantined` is announced once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from crossmatch.actions.models import Action
from crossmatch.context import open_context
from crossmatch.flood.guard import FloodService
from crossmatch.review.models import Case, CaseMatch
from crossmatch.settings import Settings
from crossmatch.signals.base import Signal
from workflow_support import KNOWN_URL, known_bank, services, submit_known


@pytest.fixture
def flood(tmp_path: Path, database_url: str | None):
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, deep_scan=False)
    settings.flood.min_hits = 3
    with open_context(settings) as ctx:
        svc = services(ctx)
        known_bank(ctx, svc)
        ctx.banks.update_bank("known", options={"policy": {"on_match": "auto"}})
        svc.actions.create_webhook("curators", "http://127.0.0.1:9/flood", ["signal.quarantined"])
        yield ctx, svc


def _upload(svc, n: int) -> None:
    submit_known(svc, f"upload-{n}")
    assert svc.submissions.process_next()


def _count(ctx, what, **where) -> int:
    with ctx.sessions() as session:
        query = select(func.count()).select_from(what)
        for key, value in where.items():
            query = query.where(getattr(what, key) == value)
        return session.scalar(query) or 0


def test_a_flooding_signal_opens_one_grouped_case_and_stops_auto_actions(flood) -> None:
    ctx, svc = flood
    for n in range(2):
        _upload(svc, n)
    assert _count(ctx, Action, event="match.auto") == 2 and _count(ctx, Case) == 0  # below min_hits: acts as usual

    for n in range(2, 8):
        _upload(svc, n)
    assert _count(ctx, Action, event="match.auto") == 2  # none after the quarantine
    assert _count(ctx, Case) == 1  # one grouped case for six held matches
    assert _count(ctx, Action, event="signal.quarantined") == 1
    [quarantine] = FloodService(ctx.sessions, ctx.banks).list()
    assert quarantine["held"] == 6 and quarantine["bank_item"] == "page-1" and "3 distinct uploads" in quarantine["reason"]
    assert _count(ctx, CaseMatch, case_id=quarantine["case_id"]) == 6  # every held match recorded on it
    with ctx.sessions() as session:
        assert session.get(Case, quarantine["case_id"]).source == "flood-quarantine"

    # The curator releases the signal: its matches act again and it is not quarantined again.
    released = FloodService(ctx.sessions, ctx.banks, svc.audit).decide(quarantine["id"], "release", "curator-1")
    assert released["status"] == "released" and released["decided_by"] == "curator-1"
    _upload(svc, 8)
    assert _count(ctx, Action, event="match.auto") == 3 and _count(ctx, Case) == 1


def test_a_curator_disabling_the_signal_stops_its_bank_item(flood) -> None:
    ctx, svc = flood
    for n in range(3):
        _upload(svc, n)
    [quarantine] = FloodService(ctx.sessions, ctx.banks).list()
    with pytest.raises(Exception, match="decision must be one of"):
        FloodService(ctx.sessions, ctx.banks).decide(quarantine["id"], "ignore", "curator-1")
    FloodService(ctx.sessions, ctx.banks).decide(quarantine["id"], "disable", "curator-1")
    item, _ = ctx.banks.get_item("known", "page-1")
    assert item.enabled is False
    assert ctx.engine.lookup([Signal("url", KNOWN_URL)]) == []


def test_curators_list_and_decide_with_the_cli(flood, tmp_path) -> None:
    import json
    import subprocess
    import sys

    ctx, svc = flood
    for n in range(3):
        _upload(svc, n)
    cli = [str(Path(sys.executable).with_name("crossmatch")), "--home", str(ctx.settings.home)]
    if ctx.settings.database_url:
        cli += ["--database-url", ctx.settings.database_url]
    listed = subprocess.run([*cli, "flood", "list", "--json"], capture_output=True, text=True, check=True).stdout
    [row] = [json.loads(line) for line in listed.splitlines()]
    assert row["status"] == "quarantined" and row["held"] == 1
    done = subprocess.run([*cli, "flood", "decide", str(row["id"]), "release", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["status"] == "released"
    again = subprocess.run([*cli, "flood", "decide", str(row["id"]), "release"], capture_output=True, text=True)
    assert again.returncode != 0 and "already decided" in again.stderr


def test_low_information_hashes_are_flagged_at_import_and_quarantined_at_first_match(flood) -> None:
    from PIL import Image

    from crossmatch.banks.schemas import BankSpec
    from crossmatch.banks.service import ItemUpsert
    from crossmatch.samples import make_poster, to_bytes
    from crossmatch.signals.base import Content

    ctx, svc = flood
    board = Image.new("L", (128, 128))
    board.putdata([255 if (x // 8 + y // 8) % 2 else 0 for y in range(128) for x in range(128)])
    pictures = {"flat": Image.new("RGB", (200, 200), (120, 120, 120)), "lattice": board.convert("RGB"), "poster": make_poster(5)}
    ctx.banks.create_bank(BankSpec(name="pictures"))
    for name, picture in pictures.items():
        signals = [s for s in ctx.engine.hash_for_bank(Content(name, "image", data=to_bytes(picture))).signals if s.type == "pdq"]
        ctx.banks.upsert_items("pictures", [ItemUpsert(name, signals[:1])])
    flags = {name: ctx.banks.get_item("pictures", name)[0].labels.get("low_information") for name in pictures}
    assert flags["flat"] and flags["lattice"] and flags["poster"] is None

    # A flagged signal (here the known URL, flagged by hand) is quarantined at its first match.
    ctx.banks.upsert_items("known", [ItemUpsert("page-1", [Signal("url", KNOWN_URL)], {"low_information": "flagged for the test"})])
    _upload(svc, 0)
    [row] = FloodService(ctx.sessions, ctx.banks).list()
    assert row["held"] == 1 and "low-information" in row["reason"]
    assert _count(ctx, Action, event="match.auto") == 0
