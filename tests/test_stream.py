"""The upload stream on NATS JetStream (real server): many workers, a worker killed mid-item, dead letters.

Needs CROSSMATCH_TEST_NATS_URL (``.ci/run`` sets it to the machine's nats-server -js).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

NATS_ENV = "CROSSMATCH_TEST_NATS_URL"
pytestmark = [
    pytest.mark.service,
    pytest.mark.skipif(not os.environ.get(NATS_ENV), reason=f"JetStream tests need {NATS_ENV}=nats://127.0.0.1:4222 (.ci/run sets it)"),
]
pytest.importorskip("nats", reason="the scale extra is not installed (pip install 'crossmatch[scale]')")

from sqlalchemy import select  # noqa: E402

from crossmatch.actions.models import Action  # noqa: E402
from crossmatch.actions.service import ActionService  # noqa: E402
from crossmatch.context import open_context  # noqa: E402
from crossmatch.samples import make_poster, to_bytes  # noqa: E402
from crossmatch.scale import stream_harness as harness  # noqa: E402
from crossmatch.scale.stream import StreamWorker  # noqa: E402
from crossmatch.signals.base import Content  # noqa: E402


@pytest.fixture
def stream(tmp_path):
    settings = harness.stream_settings(tmp_path / "home", os.environ[NATS_ENV])
    yield settings
    harness.delete_streams(settings)


def _scanned_actions(cx) -> Counter:
    with cx.sessions() as session:
        return Counter(session.scalars(select(Action.submission_id).where(Action.event == "submission.scanned")))


def _images(n: int) -> list[Content]:
    return [Content(f"upload-{i}.jpg", "image", data=to_bytes(make_poster(700 + i))) for i in range(n)]


@pytest.mark.slow
def test_a_worker_killed_mid_item_loses_nothing_and_acts_once(stream):
    with open_context(stream) as cx:
        ActionService(cx.sessions, stream, cx.banks).create_webhook("platform", "http://127.0.0.1:9/hook", ["submission.scanned"])
        service = harness.submission_service(cx, stream)
        doomed = harness.start_worker(stream)  # the only worker at first: it takes the first items
        try:
            ids = [service.submit("uploader", content, None, "test")[0]["id"] for content in _images(12)]
            harness.wait_for(lambda: "scanning" in harness.statuses(cx).values(), 60, "the worker to start an item")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        mid_item = [i for i, s in harness.statuses(cx).items() if s == "scanning"]
        survivor = StreamWorker(stream.scale, service)  # a second worker takes the rest, and the killed item
        survivor.start()
        try:
            harness.wait_for(lambda: set(harness.statuses(cx).values()) <= {"done"}, 120, "every submission to be scanned")
        finally:
            survivor.stop()
            service.publisher.close()
        assert sorted(harness.statuses(cx)) == sorted(ids)
        assert _scanned_actions(cx) == Counter({i: 1 for i in ids})  # one action per submission: none lost, none twice
        if mid_item:  # the kill landed inside a scan: the survivor took that item over on redelivery
            assert survivor.stats.taken_over >= 1


@pytest.mark.slow
def test_two_workers_share_the_queue_and_a_poison_item_goes_to_the_dead_letter_subject(stream):
    with open_context(stream) as cx:
        service = harness.submission_service(cx, stream)
        workers = [StreamWorker(stream.scale, service) for _ in range(2)]
        for worker in workers:
            worker.start()
            assert worker.ready.wait(30) and worker.error is None
        try:
            ids = [service.submit("uploader", Content(f"post-{i}", "text", text=f"an ordinary post number {i}"), None, None)[0]["id"]
                   for i in range(6)]
            harness.wait_for(lambda: set(harness.statuses(cx).values()) <= {"done"}, 60, "the posts to be scanned")
            assert sum(w.stats.scanned for w in workers) == len(ids)
        finally:
            for worker in workers:
                worker.stop()

        # An item whose every worker died: delivered max_deliver times without an ack.
        poison = service.submit("uploader", Content("poison", "text", text="a post"), None, None)[0]["id"]
        import asyncio

        from crossmatch.scale.stream import DURABLE, connect

        async def die_on_it(times: int) -> None:
            nc, js = await connect(stream.scale)
            pull = await js.pull_subscribe(stream.scale.nats_subject, durable=DURABLE, stream=stream.scale.nats_stream)
            for _ in range(times):  # take it and never ack, as a killed worker would
                await pull.fetch(1, timeout=stream.scale.nats_ack_wait_s + 5)
            await nc.close()

        asyncio.run(die_on_it(stream.scale.nats_max_deliver - 1))
        last = StreamWorker(stream.scale, service)
        last.start()
        try:
            harness.wait_for(lambda: harness.statuses(cx)[poison] == "failed", 60, "the poison item to be given up on")
        finally:
            last.stop()
            service.publisher.close()
        assert service.get(poison)["error"].startswith("gave up after")
        assert harness.dead_letters(stream) == 1
