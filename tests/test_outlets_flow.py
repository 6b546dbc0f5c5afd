"""Outlets end to end through the CLI: a platform export with sources -> flagged accounts -> a detected
outlet -> its webhook (delivered to a real local receiver) -> a candidate bank item -> a curator's decision."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from crossmatch.actions.delivery import Deliverer
from crossmatch.cli import app
from crossmatch.context import open_context
from crossmatch.samples import letterbox, make_poster, to_bytes
from crossmatch.settings import ServiceSettings, Settings
from test_api_support import receiver  # noqa: F401  (fixture)

runner = CliRunner()
FAST = ServiceSettings(webhook_max_attempts=3, webhook_backoff_s=0.05, webhook_timeout_s=2.0)
START = datetime(2026, 10, 1, tzinfo=timezone.utc)


def run(home: Path, *args: str, code: int = 0) -> list[dict]:
    result = runner.invoke(app, ["--home", str(home), "--workers", "1", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def edited(seed: int, variant: int) -> bytes:
    """An edited copy: resized and re-compressed (a different file, a near PDQ)."""
    img = make_poster(seed)
    img = letterbox(img, 0.1) if variant % 2 else img.resize((600 - 20 * variant, 450 - 15 * variant))
    return to_bytes(img, quality=55 + 5 * variant)


def write_export(root: Path) -> Path:
    media = root / "media"
    media.mkdir(parents=True)
    lines: list[dict] = []
    posted = START

    def post(name: str, data: bytes, source: dict | None) -> None:
        nonlocal posted
        posted += timedelta(hours=5)
        (media / name).write_bytes(data)
        record = {"id": name, "media": f"media/{name}"}
        if source is not None:
            record["source"] = {"posted_at": posted.isoformat(), **source}
        lines.append(record)

    outlet = [("telegram", "@NewVoice_ru"), ("telegram", "newvoice_kz"), ("vk", "newvoice.uz")]
    for round_, seed in enumerate((1, 2, 3)):  # the three known posters, each account its own edit
        for i, (platform, handle) in enumerate(outlet):
            post(f"known{seed}_{i}.jpg", edited(seed, i + round_), {
                "platform": platform, "account": handle, "post_id": f"{handle}-{seed}",
                "links": ["https://t.me/newvoice_channel"]})
    for i, (platform, handle) in enumerate(outlet):  # their own new release, not in any bank
        post(f"release_{i}.jpg", edited(77, 2 * i), {"platform": platform, "account": handle, "post_id": f"{handle}-new"})
    # A researcher posts one known item; an ordinary account posts its own pictures.
    post("research.jpg", edited(1, 4), {"platform": "x", "account": "researcher", "post_id": "r1"})
    for j in range(3):
        post(f"holiday_{j}.jpg", to_bytes(make_poster(100 + j)), {"platform": "x", "account": "ordinary", "post_id": f"o{j}"})
    # Bad sources: accepted with a warning, never attributed to someone else.
    post("no_account.jpg", edited(2, 5), {"platform": "telegram", "post_id": "lost"})
    post("bad_time.jpg", to_bytes(make_poster(200)), {"platform": "vk", "account": "someone", "posted_at": "yesterday-ish"})
    post("no_source.jpg", to_bytes(make_poster(201)), None)
    (root / "export.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n{not json\n")
    return root / "export.jsonl"


def test_export_to_flagged_outlet_webhook_candidate_and_decision(tmp_path, receiver):  # noqa: F811
    home = tmp_path / "home"
    known = tmp_path / "known"
    known.mkdir()
    for seed in (1, 2, 3):
        (known / f"poster_{seed}.jpg").write_bytes(to_bytes(make_poster(seed)))
    run(home, "bank", "create", "posters")
    run(home, "bank", "import", "posters", str(known))
    events = ["account.flagged", "outlet.detected", "outlet.grew", "candidate.created"]
    run(home, "webhook", "create", "platform", "--url", receiver.url, *sum((["--event", e] for e in events), []))

    export = write_export(tmp_path / "export")
    out = run(home, "outlets", "scan", str(export), "--json")
    summary = out[-1]["summary"]
    by_item = {r["item"]: r for r in out[:-1]}
    assert summary["flagged"] == 3 and summary["outlets"] == 1 and summary["candidates"] == 1, summary
    assert any("not valid JSON" in (r["error"] or "") for r in out[:-1])  # the bad line is one error record
    assert "source.account is missing" in by_item["no_account.jpg"]["source_warnings"][0]
    assert by_item["no_account.jpg"]["account"] is None and by_item["no_account.jpg"]["matches"]
    assert "posted_at" in by_item["bad_time.jpg"]["source_warnings"][0]
    # Pseudonymised: the same handle is the same account, and no handle is shown.
    assert by_item["known1_0.jpg"]["account"] == by_item["known2_0.jpg"]["account"].replace("@", "")
    assert by_item["known1_0.jpg"]["account"].startswith("acct_") and "newvoice" not in json.dumps(out).lower()

    # A rerun of the same export neither duplicates nor drops anything, and announces nothing again.
    again = run(home, "outlets", "scan", str(export), "--json")[-1]["summary"]
    assert again["flagged"] == 3 and again["outlets"] == 1 and again["candidates"] == 1

    settings = Settings.load(home=home)
    with open_context(settings) as cx:
        deliverer = Deliverer(cx.sessions, FAST)
        try:
            report = deliverer.deliver_due()
        finally:
            deliverer.close()
    assert report.dead == 0
    bodies = [json.loads(r["body"]) for r in receiver.unique_deliveries().values()]
    kinds = sorted(b["event"] for b in bodies)
    assert kinds.count("account.flagged") == 3 and kinds.count("outlet.detected") == 1 and kinds.count("candidate.created") == 1
    [detected] = [b["data"] for b in bodies if b["event"] == "outlet.detected"]
    assert len(detected["accounts"]) == 3 and detected["platforms"] == {"telegram": 2, "vk": 1}
    flagged = {b["data"]["account"] for b in bodies if b["event"] == "account.flagged"}
    assert flagged == set(detected["accounts"])
    assert all("distinct known items" in b["data"]["reason"] for b in bodies if b["event"] == "account.flagged")

    [candidate] = run(home, "outlets", "candidates", "--json")
    assert candidate["signal_type"] == "pdq" and set(candidate["accounts"]) <= flagged and len(candidate["accounts"]) >= 2
    # Nothing entered a bank yet: the release is still unknown.
    release = export.parent / "media" / "release_0.jpg"
    assert run(home, "scan", str(release), "--json")[0]["matches"] == []
    decided = run(home, "outlets", "decide", str(candidate["id"]), "accept", "--bank", "posters", "--json")[0]
    assert decided["status"] == "accepted" and decided["bank_item"] == f"outlet-candidate-{candidate['id']}"
    assert run(home, "outlets", "decide", str(candidate["id"]), "reject", "--json", code=2)[0]["error"] == "Conflict"
    [match] = run(home, "scan", str(release), "--json")[0]["matches"]
    assert match["bank_item"] == decided["bank_item"]

    # The history is in the audit trail, append-only.
    with open_context(settings) as cx:
        from crossmatch.audit.service import AuditLog

        actions = [r.action for r in AuditLog(cx.sessions).query(limit=100)]
    assert actions.count("account.flagged") == 3 and "outlet.detected" in actions and "candidate.accepted" in actions

    accounts = run(home, "outlets", "accounts", "--json")
    assert {a["outlet_id"] for a in accounts} == {detected["outlet_id"]}
    assert all(a["edited"] >= 1 and "handle" not in a for a in accounts)
    for fmt in ("gexf", "graphml", "csv", "stix"):
        path = tmp_path / f"graph.{fmt}"
        run(home, "outlets", "export", "--format", fmt, "-o", str(path))
        assert path.stat().st_size > 100
    stix = json.loads((tmp_path / "graph.stix").read_text())
    types = {o["type"] for o in stix["objects"]}
    assert {"threat-actor", "identity", "relationship", "indicator"} <= types
    assert "newvoice" not in (tmp_path / "graph.gexf").read_text().lower()
