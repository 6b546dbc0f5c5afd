"""Flood quarantine (issue 18): a bank signal that suddenly matches many uploads opens one grouped
case and takes no auto action until a curator decides; `signal.quarantined` is announced once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crossmatch.actions.models import Action
from crossmatch.context import open_context
from crossmatch.flood.guard import FloodService
from crossmatch.review.models import Case, CaseMatch
from crossmatch.settings import Settings
from crossmatch.signals.base import Signal
from test_api_support import receiver  # noqa: F401  (fixture)
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


# -- one case per flood, through the HTTP door -------------------------------------------------------

NOTICE = "A benign synthetic notice: the community garden opens on Saturday with seedlings, compost and tea for all."


@contextmanager
def _flood_api(tmp_path: Path, database_url: str | None, policy: str, **flood) -> Iterator:
    """The HTTP app with a bank "shared-list" holding one text item, meme-1, under ``policy``."""
    from fastapi.testclient import TestClient

    from crossmatch.api.app import create_app
    from test_api_support import Api, make_settings

    settings = make_settings(tmp_path / "home", database_url)
    for key, value in {"min_hits": 3, **flood}.items():
        setattr(settings.flood, key, value)
    app = create_app(settings)
    with TestClient(app) as client:
        api = Api(app, client)
        cur = api.h("curator")
        client.post("/api/v1/banks", json={"name": "shared-list"}, headers=cur)
        client.put("/api/v1/banks/shared-list/policy", json={"on_match": policy}, headers=cur)
        signals = client.post("/api/v1/hash", json={"text": NOTICE}, headers=api.h("hasher")).json()["signals"]
        near = [{"type": s["type"], "value": s["value"]} for s in signals if s["type"] == "text_near"]
        client.put("/api/v1/banks/shared-list/items", json={"items": [{"id": "meme-1", "signals": near}]}, headers=cur)
        yield api


def _post(api, n: int) -> dict:
    c = api.client
    sid = c.post("/api/v1/submissions", json={"text": NOTICE, "source": f"user-{n}"}, headers=api.h("matcher")).json()["id"]
    while api.state.submissions.process_next():
        pass
    return c.get(f"/api/v1/submissions/{sid}", headers=api.h("matcher")).json()


def _cases(api, status: str) -> list[dict]:
    body = api.client.get("/api/v1/cases", params={"status": status, "limit": 100}, headers=api.h("reviewer")).json()
    return body["cases"] if isinstance(body, dict) else body


def test_review_policy_flood_ends_as_one_case_with_earlier_cases_merged(tmp_path: Path, database_url, receiver) -> None:
    from crossmatch.actions.delivery import Deliverer

    with _flood_api(tmp_path, database_url, "review") as api:
        c = api.client
        c.post("/api/v1/webhooks", json={"name": "curators", "url": receiver.url, "events": ["signal.quarantined"]},
               headers=api.h("admin"))
        first, second = _post(api, 1), _post(api, 2)
        assert first["case_id"] and second["case_id"] and first["case_id"] != second["case_id"]  # below min_hits: a case each
        # A reviewer already decided the first one: it stays as it is.
        rev = api.h("reviewer")
        c.post(f"/api/v1/cases/{first['case_id']}/claim", headers=rev)
        decided = c.post(f"/api/v1/cases/{first['case_id']}/decision", json={"decision": "confirm", "note": "seen it",
                                                                             "reason": "terrorist_content"}, headers=rev)
        assert decided.status_code == 200, decided.text

        third = _post(api, 3)  # the third distinct upload within the window: quarantined
        assert third["case_id"] is None and any("quarantined for a flood" in w for w in third["result"]["warnings"])
        for n in (4, 5):
            assert _post(api, n)["case_id"] is None

        pending = _cases(api, "pending")
        assert len(pending) == 1  # one grouped case for the whole flood
        grouped = c.get(f"/api/v1/cases/{pending[0]['id']}", headers=rev).json()
        assert grouped["source"] == "flood-quarantine"
        uploads = [m["evidence"].get("merged_from_case") for m in grouped["matches"]]
        assert len(grouped["matches"]) == 4 and uploads.count(second["case_id"]) == 1  # the folded one + 3 held

        [merged] = _cases(api, "merged")
        assert merged["id"] == second["case_id"]
        merged_case = c.get(f"/api/v1/cases/{merged['id']}", headers=rev).json()
        assert f"merged into case {grouped['id']}" in merged_case["warnings"][-1]
        assert c.get(f"/api/v1/cases/{first['case_id']}", headers=rev).json()["status"] == "confirmed"
        c.post(f"/api/v1/cases/{merged['id']}/claim", headers=rev)
        refused = c.post(f"/api/v1/cases/{merged['id']}/decision", json={"decision": "reject", "note": "x", "reason": "satire"},
                         headers=rev)
        assert refused.status_code == 409

        audit = c.get("/api/v1/audit", params={"action": "case.merge"}, headers=api.h("admin")).json()
        entries = audit["entries"] if isinstance(audit, dict) else audit
        assert [e["target"] for e in entries] == [f"case:{second['case_id']}"]

        deliverer = Deliverer(api.state.ctx.sessions, api.state.settings.service)
        assert deliverer.deliver_due().delivered == 1
        [request] = receiver.accepted()
        body = json.loads(request["body"])
        assert body["event"] == "signal.quarantined" and body["data"]["bank_item"] == "meme-1"
        assert body["data"]["case_id"] == grouped["id"] and body["data"]["merged_cases"] == [second["case_id"]]


def test_probation_holds_auto_actions_of_a_rising_signal(tmp_path: Path, database_url) -> None:
    with _flood_api(tmp_path, database_url, "auto", probation_hits=2) as api:
        api.client.post("/api/v1/webhooks", json={"name": "platform", "url": "http://127.0.0.1:9/hook", "events": ["match.auto"]},
                        headers=api.h("admin"))
        first = _post(api, 1)
        assert first["case_id"] is None and len(first["action_ids"]) == 1  # the first match acts as the policy says
        second = _post(api, 2)
        assert second["case_id"] is not None  # on probation: a person looks instead of an auto action
        case = api.client.get(f"/api/v1/cases/{second['case_id']}", headers=api.h("reviewer")).json()
        assert "flood probation" in case["matches"][0]["evidence"]["flood_probation"]
        _post(api, 3)  # quarantined: the probation case folds into the grouped one
        assert len(_cases(api, "pending")) == 1 and [c["id"] for c in _cases(api, "merged")] == [second["case_id"]]
        with api.state.ctx.sessions() as session:
            autos = session.scalar(select(func.count()).select_from(Action).where(Action.event == "match.auto"))
        assert autos == 1


def test_the_short_window_quarantines_a_fast_flood_sooner(flood) -> None:
    ctx, svc = flood
    flood_settings = ctx.settings.flood
    flood_settings.min_hits, flood_settings.short_min_hits, flood_settings.short_window_s = 10, 2, 600
    _upload(svc, 0)
    assert FloodService(ctx.sessions, ctx.banks).list() == []
    _upload(svc, 1)
    [row] = FloodService(ctx.sessions, ctx.banks).list()
    assert "2 distinct uploads in 10 min" in row["reason"] and _count(ctx, Action, event="match.auto") == 1


def test_bank_import_flags_flat_lattice_and_poor_quality_pictures(tmp_path: Path) -> None:
    """The import door: `crossmatch bank import` of a folder labels what the guard will quarantine at first match."""
    import subprocess
    import sys

    from PIL import Image

    from crossmatch.samples import make_poster

    folder = tmp_path / "list"
    folder.mkdir()
    board = Image.new("L", (128, 128))
    board.putdata([255 if (x // 8 + y // 8) % 2 else 0 for y in range(128) for x in range(128)])
    Image.new("RGB", (200, 200), (120, 120, 120)).save(folder / "flat.png")
    board.convert("RGB").save(folder / "lattice.png")
    make_poster(7).save(folder / "poster.png")
    home = tmp_path / "home"
    cli = [str(Path(sys.executable).with_name("crossmatch")), "--home", str(home)]
    subprocess.run([*cli, "bank", "create", "pictures"], capture_output=True, text=True, check=True)
    subprocess.run([*cli, "bank", "import", "pictures", str(folder), "--json"], capture_output=True, text=True, check=True)
    with open_context(Settings.load(home=home, workers=1)) as ctx:
        flags = {item.external_id: (item.labels or {}).get("low_information") for item in ctx.banks.list_items("pictures")}
    assert set(flags) == {"flat.png", "lattice.png", "poster.png"}, flags
    assert "quality 0 is below" in flags["flat.png"]  # PDQ's own quality score says a flat picture carries nothing
    assert "lattice" in flags["lattice.png"] and flags["poster.png"] is None
