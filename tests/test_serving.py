"""The serving core: concurrent lookups without a lock, 503 under overload, a bounded deep pass
that continues asynchronously, roles, and allow matches hidden from matchers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.samples import make_poster, to_bytes
from crossmatch.signals.base import Signal
from tests.test_api_support import running_api, unique


def test_many_lookups_at_once_all_answer_and_match(tmp_path):
    with running_api(tmp_path / "home", "sqlite", hash_processes=2, max_in_flight_per_process=8) as api:
        bank = unique()
        posters = [make_poster(seed) for seed in range(6)]
        api.state.ctx.banks.create_bank(BankSpec(name=bank))
        api.state.ctx.banks.upsert_items(bank, [
            ItemUpsert(f"p{n}", api.state.ctx.engine.hash_for_bank(_content(to_bytes(p))).signals) for n, p in enumerate(posters)])

        def lookup(n: int) -> tuple[int, list[str]]:
            data = to_bytes(posters[n % 6].resize((500, 375)), quality=70)
            r = api.client.post("/api/v1/lookup", headers=api.h("matcher"), files={"file": (f"u{n}.jpg", data, "image/jpeg")})
            return r.status_code, sorted({m["bank_item"] for m in r.json().get("matches", [])})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lookup, range(24)))
        assert all(code == 200 for code, _ in answers), answers
        assert [items for _, items in answers] == [[f"p{n % 6}"] for n in range(24)]


def _content(data: bytes):
    from crossmatch.signals.base import Content

    return Content("bank", "image", data=data)


def test_overload_is_shed_with_503_and_retry_after(tmp_path):
    with running_api(tmp_path / "home", "sqlite", hash_processes=1, max_in_flight_per_process=1,
                     admission_wait_s=0.0, retry_after_s=2) as api:
        entered, release = threading.Event(), threading.Event()
        engine = api.state.ctx.engine
        real_lookup = engine.lookup

        def slow_lookup(signals):
            entered.set()
            release.wait(10)
            return real_lookup(signals)

        engine.lookup = slow_lookup
        body = {"signal_type": "md5", "signal": "0" * 32}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(api.client.post, "/api/v1/lookup/signal", headers=api.h("matcher"), json=body)
            assert entered.wait(10)
            shed = api.client.post("/api/v1/lookup/signal", headers=api.h("matcher"), json=body)
            release.set()
            assert first.result().status_code == 200
        assert shed.status_code == 503 and shed.headers["Retry-After"] == "2"
        assert "retry" in shed.json()["detail"] and shed.json()["error"] == "Overloaded"
        engine.lookup = real_lookup
        assert api.client.post("/api/v1/lookup/signal", headers=api.h("matcher"), json=body).status_code == 200


def test_a_deep_pass_past_its_budget_continues_as_a_submission_and_is_never_called_clean(tmp_path):
    with running_api(tmp_path / "home", "sqlite", deep_budget_s=0.0) as api:
        api.state.settings.__dict__["deep_scan"] = True  # make_settings turns it off for speed
        api.state.ctx.engine.settings.__dict__["deep_scan"] = True
        bank = unique()
        api.state.ctx.banks.create_bank(BankSpec(name=bank))
        api.state.ctx.banks.upsert_items(bank, [ItemUpsert("other", [Signal("md5", "1" * 32)])])
        data = to_bytes(make_poster(9))
        r = api.client.post("/api/v1/lookup", headers=api.h("matcher"), files={"file": ("u.jpg", data, "image/jpeg")})
        body = r.json()
        assert r.status_code == 200 and body["matches"] == []
        assert body["complete"] is False and body["deep_pass"]["status"] == "queued", body
        assert body["deep_pass"]["incomplete"]
        sub = api.client.get(f"/api/v1/submissions/{body['deep_pass']['submission_id']}", headers=api.h("matcher"))
        assert sub.status_code == 200 and sub.json()["status"] == "queued"
        # A generous budget runs the deep pass in the request.
        api.state.settings.service.__dict__["deep_budget_s"] = 60.0
        again = api.client.post("/api/v1/lookup", headers=api.h("matcher"), files={"file": ("u.jpg", data, "image/jpeg")}).json()
        assert again["complete"] is True and again["deep_pass"] == {"status": "done", "incomplete": [], "submission_id": None}


def test_matchers_do_not_learn_which_allow_items_exist(tmp_path):
    with running_api(tmp_path / "home", "sqlite") as api:
        ctx = api.state.ctx
        block, allow = unique("block"), unique("allow")
        ctx.banks.create_bank(BankSpec(name=block))
        ctx.banks.create_bank(BankSpec(name=allow, kind="allow"))
        data = to_bytes(make_poster(4))
        signals = ctx.engine.hash_for_bank(_content(data)).signals
        ctx.banks.upsert_items(block, [ItemUpsert("known", signals)])
        ctx.banks.upsert_items(allow, [ItemUpsert("benign-secret", signals)])
        as_matcher = api.client.post("/api/v1/lookup", headers=api.h("matcher"), files={"file": ("u.jpg", data, "image/jpeg")}).json()
        assert as_matcher["matches"] == [] and as_matcher["suppressed"] == []
        assert "benign-secret" not in str(as_matcher)
        as_admin = api.client.post("/api/v1/lookup", headers=api.h("admin"), files={"file": ("u.jpg", data, "image/jpeg")}).json()
        assert {m["suppressed_by"] for m in as_admin["suppressed"]} == {f"{allow}/benign-secret"}


def test_a_worker_role_serves_health_checks_only_and_an_api_role_runs_no_loops(tmp_path):
    with running_api(tmp_path / "w", "sqlite", role="worker") as worker:
        assert worker.client.get("/healthz").status_code == 200
        assert worker.client.post("/api/v1/lookup/signal", json={}).status_code == 404
        assert worker.state.ctx.pool is None  # a worker scans submissions in its own loop, no request pool
    with running_api(tmp_path / "a", "sqlite", role="api", background_workers=True, worker_poll_s=0.05) as api:
        r = api.client.post("/api/v1/submissions", headers=api.h("matcher"), json={"text": "a queued post that no one scans here"})
        time.sleep(0.5)
        got = api.client.get(f"/api/v1/submissions/{r.json()['id']}", headers=api.h("matcher")).json()
        assert got["status"] == "queued"  # submissions are the worker role's job


def test_lookups_keep_working_while_bank_items_are_added(tmp_path):
    with running_api(tmp_path / "home", "sqlite", index_refresh_s=0.0, hash_processes=1, max_in_flight_per_process=8) as api:
        ctx = api.state.ctx
        bank = unique()
        ctx.banks.create_bank(BankSpec(name=bank))
        rng = np.random.default_rng(1)
        stop = threading.Event()

        def writer():
            n = 0
            while not stop.is_set():
                ctx.banks.upsert_items(bank, [ItemUpsert(f"w{n}", [Signal("pdq", rng.bytes(32).hex(), 100)])])
                n += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            answers = []
            for n in range(40):
                value = f"{n:064x}"
                ctx.banks.upsert_items(bank, [ItemUpsert(f"mine{n}", [Signal("pdq", value, 100)])])
                r = api.client.post("/api/v1/lookup/signal", headers=api.h("matcher"), json={"signal_type": "pdq", "signal": value})
                answers.append((r.status_code, f"mine{n}" in {m["bank_item"] for m in r.json()["matches"]}))
        finally:
            stop.set()
            thread.join()
        assert answers == [(200, True)] * 40  # an item written is matchable at once, under concurrent writes


def test_a_full_backlog_is_refused_before_the_body_is_read():
    """With every slot busy and as many requests already waiting, the next one is refused at once
    (no upload read or parsed), and it counts as shed; once the queue drains, requests get in again."""
    import asyncio

    import pytest

    from crossmatch.api.admission import Admission, Overloaded

    async def scenario() -> None:
        admission = Admission(slots=1, wait_s=5.0, retry_after_s=2)
        release = asyncio.Event()

        async def hold() -> None:
            async with admission.slot():
                await release.wait()

        holder = asyncio.create_task(hold())
        while admission.in_use < 1:
            await asyncio.sleep(0.01)
        waiter = asyncio.create_task(hold())  # waits for the busy slot
        while admission.waiting < 1:
            await asyncio.sleep(0.01)
        try:
            with pytest.raises(Overloaded) as refused:
                admission.refuse_if_backlogged()
            assert refused.value.retry_after == 2 and admission.shed == 1
        finally:
            release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), timeout=10)
        assert admission.waiting == 0
        admission.refuse_if_backlogged()  # the queue drained: admitted again

    asyncio.run(scenario())
