"""Asynchronous submissions: queue, idempotency, scan by the worker, actions, media retention."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from crossmatch.api.submissions import Submission
from crossmatch.samples import make_poster, to_bytes
from crossmatch.store.models import utcnow
from test_api_support import BACKENDS, Receiver, api, running_api, unique  # noqa: F401  (fixture)

TEXT = "A benign synthetic notice about a community bake sale on Saturday, with cakes, bread and tea for everyone."
OTHER = "Timetable change: the number 12 bus will stop at the library instead of the market square from next Monday."


def bank_with_text(api, policy: dict | None = None, text: str = TEXT) -> str:
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    if policy:
        c.put(f"/api/v1/banks/{name}/policy", json=policy, headers=cur)
    signals = c.post("/api/v1/hash", json={"text": text}, headers=api.h("hasher")).json()["signals"]
    near = [{"type": s["type"], "value": s["value"]} for s in signals if s["type"] == "text_near"]
    assert near
    c.put(f"/api/v1/banks/{name}/items", json={"items": [{"id": "notice-1", "signals": near}]}, headers=cur)
    return name


def drain(api) -> int:
    done = 0
    while api.state.submissions.process_next():
        done += 1
    return done


def test_submit_is_idempotent_and_scanned_by_the_worker(api):
    c, mat = api.client, api.h("matcher")
    bank = bank_with_text(api)
    key = unique("key")
    first = c.post("/api/v1/submissions", json={"text": TEXT, "source": "forum"}, headers={**mat, "Idempotency-Key": key})
    assert first.status_code == 202 and first.json()["status"] == "queued" and first.json()["source"] == "forum"
    sid = first.json()["id"]
    again = c.post("/api/v1/submissions", json={"text": "different text"}, headers={**mat, "Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["id"] == sid
    in_body = c.post("/api/v1/submissions", json={"text": TEXT, "idempotency_key": key}, headers=mat)
    assert in_body.json()["id"] == sid
    assert c.get(f"/api/v1/submissions/{sid}", headers=mat).json()["status"] == "queued"
    spool = Path(api.state.submissions.spool)
    assert any(spool.iterdir())
    assert drain(api) >= 1
    done = c.get(f"/api/v1/submissions/{sid}", headers=mat).json()
    assert done["status"] == "done" and done["finished_at"]
    [match] = [m for m in done["result"]["matches"] if m["bank"] == bank]
    assert match["bank_item"] == "notice-1" and match["signal_type"] == "text_near"
    if api.state.review is not None:  # default policy "review": the match waits for a person
        assert done["case_id"] is not None
    assert drain(api) == 0  # the same key never caused a second scan
    with api.state.ctx.sessions() as session:
        row = session.get(Submission, sid)
        assert row.spool_path is None and row.media_expires_at is None  # content is not kept by default
    assert not any(spool.iterdir())


def test_submissions_are_private_to_their_owner(api):
    c = api.client
    sid = c.post("/api/v1/submissions", json={"text": "hello"}, headers=api.h("matcher")).json()["id"]
    other, _ = api.state.tokens.create("matcher", unique("other-platform"))
    hidden = c.get(f"/api/v1/submissions/{sid}", headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 404 and "POST /api/v1/submissions" in hidden.json()["detail"]
    assert c.get(f"/api/v1/submissions/{sid}", headers=api.h("admin")).status_code == 200
    assert c.get("/api/v1/submissions/123456789", headers=api.h("matcher")).status_code == 404
    assert c.get("/api/v1/submissions/not-a-number", headers=api.h("matcher")).status_code == 422
    blank = c.post("/api/v1/submissions", json={"text": "x"}, headers={**api.h("matcher"), "Idempotency-Key": "  "})
    assert blank.status_code == 422
    drain(api)


def test_auto_policy_queues_a_webhook_action(api):
    receiver = Receiver()
    try:
        c = api.client
        bank = bank_with_text(api, {"on_match": "auto"}, OTHER)
        hook = c.post("/api/v1/webhooks", json={"name": unique("hook"), "url": receiver.url, "events": ["match.auto"]},
                      headers=api.h("admin")).json()
        sid = c.post("/api/v1/submissions", json={"text": OTHER}, headers=api.h("matcher")).json()["id"]
        drain(api)
        done = c.get(f"/api/v1/submissions/{sid}", headers=api.h("matcher")).json()
        assert done["case_id"] is None and len(done["action_ids"]) == 1
        action = c.get(f"/api/v1/actions/{done['action_ids'][0]}", headers=api.h("admin")).json()
        assert action["event"] == "match.auto" and action["submission_id"] == sid and action["status"] == "pending"
        assert [m["bank"] for m in action["payload"]["matches"]] == [bank]
        c.delete(f"/api/v1/webhooks/{hook['id']}", headers=api.h("admin"))
    finally:
        receiver.close()


def test_bad_media_fails_with_a_reason(api):
    c, mat = api.client, api.h("matcher")
    sid = c.post("/api/v1/submissions", files={"file": ("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")}, headers=mat).json()["id"]
    drain(api)
    out = c.get(f"/api/v1/submissions/{sid}", headers=mat).json()
    assert out["status"] == "failed" and out["item"] == "broken.png" and out["error"]


def test_keep_media_is_opt_in_with_retention(api):
    c, mat = api.client, api.h("matcher")
    settings = api.state.settings
    settings.keep_media = True
    try:
        sid = c.post("/api/v1/submissions", files={"file": ("p.jpg", to_bytes(make_poster(5)), "image/jpeg")}, headers=mat).json()["id"]
        drain(api)
    finally:
        settings.keep_media = False
    with api.state.ctx.sessions() as session:
        row = session.get(Submission, sid)
        kept, expires = row.spool_path, row.media_expires_at
    assert kept and Path(kept).exists() and expires is not None
    with api.state.ctx.sessions.begin() as session:
        session.execute(update(Submission).where(Submission.id == sid).values(media_expires_at=utcnow() - timedelta(seconds=1)))
    assert api.state.submissions.purge_expired() >= 1
    assert not Path(kept).exists()


def test_background_worker_scans_without_help(tmp_path):
    with running_api(tmp_path, BACKENDS[0], background_workers=True, worker_poll_s=0.2) as live:
        sid = live.client.post("/api/v1/submissions", json={"text": TEXT}, headers=live.h("matcher")).json()["id"]
        deadline = time.monotonic() + 60
        status = "queued"
        while status in ("queued", "scanning") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = live.client.get(f"/api/v1/submissions/{sid}", headers=live.h("matcher")).json()["status"]
        assert status == "done"
