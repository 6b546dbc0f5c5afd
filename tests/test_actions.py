"""Actions: policies, durable webhook delivery against a real local receiver, retries, dead letters."""

from __future__ import annotations

import json
import socket
import time

import pytest
from sqlalchemy import update

from crossmatch.actions.delivery import Deliverer, backoff, verify
from crossmatch.actions.service import ActionService
from crossmatch.banks.schemas import BankSpec
from crossmatch.engine import Match, ScanResult
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.settings import ServiceSettings
from crossmatch.store.models import Bank
from test_api_support import receiver, service_ctx, unique  # noqa: F401  (fixtures)

FAST = ServiceSettings(webhook_max_attempts=3, webhook_backoff_s=0.05, webhook_timeout_s=2.0)


def actions_for(ctx) -> ActionService:
    return ActionService(ctx.sessions, ctx.settings, ctx.banks)


def match(bank: str, distance: float | None = None, score: float | None = None, kind: str = "block") -> Match:
    return Match(bank=bank, bank_kind=kind, bank_item="item-1", bank_item_id=1, item_labels={"entity": "Test"},
                 signal_type="pdq" if distance is not None else "text_xling", threshold=31 if distance is not None else 0.8,
                 distance=distance, score=score, evidence={"variant": "original"})


def test_signed_delivery(service_ctx, receiver):
    actions = actions_for(service_ctx)
    hook, secret = actions.create_webhook(unique("hook"), receiver.url, ["decision"])
    [action_id] = actions.on_decision(42, "confirm", "rita", {"note": "seen before", "submission_id": "17"})
    deliverer = Deliverer(service_ctx.sessions, FAST)
    try:
        report = deliverer.deliver_due()
    finally:
        deliverer.close()
    assert report.delivered == 1
    [request] = receiver.accepted()
    headers = request["headers"]
    assert verify(secret, request["body"], headers["X-Crossmatch-Signature"])
    assert not verify("some-other-secret-value", request["body"], headers["X-Crossmatch-Signature"])
    body = json.loads(request["body"])
    assert body["event"] == "decision" and body["data"]["case_id"] == 42 and body["data"]["actor"] == "rita"
    assert headers["X-Crossmatch-Delivery"] == body["delivery_id"] and headers["X-Crossmatch-Event"] == "decision"
    state = actions.get_action(action_id)
    assert state["status"] == "delivered" and state["attempts"] == 1 and state["delivered_at"]
    assert state["case_id"] == 42 and state["submission_id"] == 17
    actions.delete_webhook(hook["id"])


def test_retries_with_backoff_then_dead_letter_then_retry(service_ctx, receiver):
    actions = actions_for(service_ctx)
    hook, _ = actions.create_webhook(unique("hook"), receiver.url, ["match.auto"])
    receiver.mode = "fail"
    [action_id] = actions.enqueue("match.auto", {"item": "x"})
    deliverer = Deliverer(service_ctx.sessions, FAST)
    try:
        seen_due = []
        for attempt in range(1, 4):
            before = time.time()
            report = deliverer.deliver_due(now=time.time() + 1000)  # all due now, whatever the backoff
            assert report.failed + report.dead == 1
            state = actions.get_action(action_id)
            assert state["attempts"] == attempt and "HTTP 500" in state["last_error"]
            if attempt < 3:
                assert state["status"] == "pending"
                seen_due.append(state["next_attempt_at"] - before)
        assert state["status"] == "dead"
        # exponential: 0.05 s then 0.1 s (plus a little time spent posting)
        assert seen_due[0] == pytest.approx(backoff(FAST, 1), abs=0.5) and backoff(FAST, 2) == 2 * backoff(FAST, 1)
        assert seen_due[1] >= 0.1
        assert deliverer.deliver_due(now=time.time() + 1000).delivered == 0  # dead letters are not sent again by themselves
        assert action_id in [a["id"] for a in actions.list_actions("dead")]

        receiver.mode = "ok"
        again = actions.retry(action_id)
        assert again["status"] == "pending" and again["attempts"] == 0
        with pytest.raises(Conflict):
            actions.retry(action_id)  # only dead letters
        assert deliverer.deliver_due().delivered == 1
        assert actions.get_action(action_id)["status"] == "delivered"
        assert len(receiver.unique_deliveries()) == 1 and len(receiver.requests) == 4
    finally:
        deliverer.close()
        actions.delete_webhook(hook["id"])


def test_unreachable_receiver_names_the_url(service_ctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    actions = actions_for(service_ctx)
    hook, _ = actions.create_webhook(unique("hook"), f"http://127.0.0.1:{port}/x", ["match.auto"])
    [action_id] = actions.enqueue("match.auto", {"item": "y"})
    deliverer = Deliverer(service_ctx.sessions, FAST)
    try:
        deliverer.deliver_due()
    finally:
        deliverer.close()
    state = actions.get_action(action_id)
    assert state["status"] == "pending" and f"127.0.0.1:{port}" in state["last_error"]
    actions.delete_webhook(hook["id"])
    assert actions.get_action(action_id)["status"] == "dead" and actions.get_action(action_id)["last_error"] == "webhook deleted"
    with pytest.raises(Conflict):
        actions.retry(action_id)


def test_a_claimed_action_is_not_sent_twice(service_ctx, receiver):
    actions = actions_for(service_ctx)
    hook, _ = actions.create_webhook(unique("hook"), receiver.url, ["match.auto"])
    [action_id] = actions.enqueue("match.auto", {"item": "z"})
    one, two = Deliverer(service_ctx.sessions, FAST), Deliverer(service_ctx.sessions, FAST)
    try:
        now = time.time()
        assert one._claim(action_id, now) is not None
        assert two._claim(action_id, now) is None  # leased by the first process
        assert two.deliver_due().delivered == 0
    finally:
        one.close()
        two.close()
        actions.delete_webhook(hook["id"])


def test_policies_route_matches(service_ctx, receiver):
    banks = service_ctx.banks
    review, auto, strict, silent, allow = (unique(p) for p in ("review", "auto", "strict", "silent", "allow"))
    banks.create_bank(BankSpec(name=review))
    banks.create_bank(BankSpec(name=auto, options={"policy": {"on_match": "auto"}}))
    banks.create_bank(BankSpec(name=strict, options={"policy": {"on_match": "auto", "auto_max_distance": 8, "auto_min_score": 0.95}}))
    banks.create_bank(BankSpec(name=silent, options={"policy": {"on_match": "none"}}))
    banks.create_bank(BankSpec(name=allow, kind="allow"))
    actions = actions_for(service_ctx)
    out = actions.outcomes([match(review, 3), match(auto, 30), match(strict, 4), match(strict, 20), match(strict, score=0.97),
                            match(strict, score=0.9), match(silent, 0), match(allow, 0, kind="allow")])
    assert [(m.bank, m.distance, m.score) for m in out["auto"]] == [(auto, 30, None), (strict, 4, None), (strict, None, 0.97)]
    assert [(m.bank, m.distance, m.score) for m in out["review"]] == [(review, 3, None), (strict, 20, None), (strict, None, 0.9)]
    assert [m.bank for m in out["none"]] == [silent]

    hook, _ = actions.create_webhook(unique("hook"), receiver.url, ["match.auto", "match.review", "submission.scanned"])
    result = ScanResult("upload.jpg", "image", matches=[match(auto, 2), match(review, 5)])
    assert actions.wants_review(result)
    ids = actions.on_scan(result, 7, case_id=99)
    events = {a["event"]: a for a in (actions.get_action(i) for i in ids)}
    assert set(events) == {"match.auto", "match.review", "submission.scanned"}
    assert [m["bank"] for m in events["match.auto"]["payload"]["matches"]] == [auto]
    assert events["match.review"]["case_id"] == 99 and events["match.review"]["submission_id"] == 7
    quiet = ScanResult("t", "text", matches=[match(silent, 1)])
    assert not actions.wants_review(quiet) and actions.on_scan(quiet, None, None) == []
    with pytest.raises(InvalidInput, match="policy is not valid"):
        banks.update_bank(silent, options={"policy": {"on_match": "never"}})
    # A policy stored before the bank rules existed still fails loudly, naming the bank.
    with service_ctx.sessions.begin() as session:
        session.execute(update(Bank).where(Bank.name == silent).values(options={"policy": {"on_match": "never"}}))
    with pytest.raises(InvalidInput, match=silent):
        actions.outcomes([match(silent, 1)])
    actions.delete_webhook(hook["id"])


def test_webhook_validation(service_ctx):
    actions = actions_for(service_ctx)
    with pytest.raises(InvalidInput, match="http"):
        actions.create_webhook(unique("h"), "ftp://example.org/x")
    with pytest.raises(InvalidInput, match="events"):
        actions.create_webhook(unique("h"), "http://127.0.0.1:9/x", ["match.maybe"])
    with pytest.raises(InvalidInput, match="16"):
        actions.create_webhook(unique("h"), "http://127.0.0.1:9/x", secret="short")
    name = unique("h")
    hook, secret = actions.create_webhook(name, "http://127.0.0.1:9/x")
    assert len(secret) >= 32 and hook["events"] == ["match.auto", "decision"] and "secret" not in hook
    with pytest.raises(Conflict):
        actions.create_webhook(name, "http://127.0.0.1:9/y")
    assert actions.update_webhook(hook["id"], enabled=False)["enabled"] is False
    queued = [actions.get_action(i) for i in actions.enqueue("decision", {})]
    assert all(a["webhook_id"] != hook["id"] for a in queued)  # disabled hooks get nothing queued
    actions.delete_webhook(hook["id"])
    with pytest.raises(NotFound):
        actions.delete_webhook(hook["id"])
