"""The upload stream on NATS JetStream: submissions through a work-queue stream, many workers.

The database stays the record of every submission (its row, its lease, its
result); JetStream carries only "submission N is waiting" and decides who
scans it:

- the API commits the row, then publishes ``{"submission_id": N}`` with
  ``Nats-Msg-Id: submission-N`` (JetStream drops a duplicate publish);
- ``worker`` processes share one durable pull consumer with explicit acks; a
  worker reports progress while it scans (long videos, OCR) and acks only once
  the result, the case and its actions have committed;
- a worker killed mid-item never acks: JetStream redelivers the message after
  ``ack_wait`` and the next worker takes the submission's lease over.  Actions
  are written only in the transaction that records the result under the lease
  (see :mod:`crossmatch.api.submissions`), so each is created, and delivered
  under its delivery id, exactly once;
- the last allowed delivery (``max_deliver``) is not scanned again: every worker
  that took the item died on it.  It goes to the dead-letter subject and the
  submission is marked failed (fail closed: never reported clean);
- a sweep publishes again submissions left queued (the API died between its
  commit and its publish).

Without NATS (one box) the in-process database queue stays the default
(``scale.queue = "local"``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from crossmatch.settings import ScaleSettings

log = logging.getLogger(__name__)
DURABLE = "crossmatch-workers"
SWEEP_S = 60.0  # how often, and after how long, queued submissions are published again


class StreamUnavailable(RuntimeError):
    """NATS could not be reached or refused the stream; the message says where and what to do."""


async def connect(scale: ScaleSettings) -> tuple[Any, Any]:
    """(connection, JetStream context) with the work-queue and dead-letter streams in place."""
    import nats
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig

    try:
        nc = await nats.connect(scale.nats_url, connect_timeout=5, max_reconnect_attempts=3, allow_reconnect=True)
    except Exception as exc:
        raise StreamUnavailable(f"cannot reach NATS at {scale.nats_url} ({type(exc).__name__}: {exc}); start nats-server -js "
                                "or set scale.queue = \"local\"") from None
    js = nc.jetstream()
    for name, subject, retention in ((scale.nats_stream, scale.nats_subject, RetentionPolicy.WORK_QUEUE),
                                     (f"{scale.nats_stream}_DEAD", scale.nats_dead_subject, RetentionPolicy.LIMITS)):
        config = StreamConfig(name=name, subjects=[subject], retention=retention, storage=StorageType.FILE,
                              duplicate_window=300.0)
        try:
            await js.add_stream(config)
        except Exception:  # it exists (perhaps from another version): bring its config up to date
            await js.update_stream(config)
    return nc, js


class _LoopThread:
    """An asyncio loop in a thread, so synchronous code (request threads, the CLI) can use nats-py."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine, timeout: float | None = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class Publisher:
    """Announces submissions on the work queue (``SubmissionService.publisher``)."""

    def __init__(self, scale: ScaleSettings) -> None:
        self._scale = scale
        self._loop = _LoopThread("crossmatch-nats-publish")
        self._nc, self._js = self._loop.run(connect(scale))

    def publish(self, submission_id: int) -> None:
        payload = json.dumps({"submission_id": int(submission_id)}).encode()
        try:
            self._loop.run(self._js.publish(self._scale.nats_subject, payload,
                                            headers={"Nats-Msg-Id": f"submission-{submission_id}"}), timeout=10)
        except Exception:  # the row is committed and queued: the workers' sweep publishes it again
            log.exception("publishing submission %s to JetStream failed; the sweep will publish it again", submission_id)

    def close(self) -> None:
        try:
            self._loop.run(self._nc.drain(), timeout=10)
        finally:
            self._loop.stop()


@dataclass
class WorkerStats:
    scanned: int = 0
    finished_before: int = 0  # redelivered after another worker had recorded it
    dead: int = 0
    taken_over: int = 0
    seen: list[int] = field(default_factory=list)


class StreamWorker:
    """Pulls submissions from JetStream and scans them with ``SubmissionService.process_id``.

    Runs in its own thread (``start``/``stop``) inside a ``serve --role worker`` process.
    """

    def __init__(self, scale: ScaleSettings, submissions: Any, on_item: Callable[[int, str], None] | None = None) -> None:
        self._scale = scale
        self._submissions = submissions
        self._on_item = on_item
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="crossmatch-nats-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self.run())
        except BaseException as exc:  # reported by the server's health and log; the process keeps serving
            self.error = exc
            log.exception("the JetStream worker stopped")
        finally:
            self.ready.set()

    # -- the loop ----------------------------------------------------------------
    async def run(self) -> None:
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig

        scale = self._scale
        nc, js = await connect(scale)
        try:
            config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, ack_wait=scale.nats_ack_wait_s,
                                    max_deliver=scale.nats_max_deliver, max_ack_pending=1000)
            pull = await js.pull_subscribe(scale.nats_subject, durable=DURABLE, stream=scale.nats_stream, config=config)
            self.ready.set()
            next_sweep = 0.0
            loop = asyncio.get_running_loop()
            while not self._stop.is_set():
                if loop.time() >= next_sweep:
                    await self._sweep(js)
                    next_sweep = loop.time() + SWEEP_S
                try:
                    messages = await pull.fetch(1, timeout=1.0)
                except NatsTimeout:
                    continue
                for message in messages:
                    await self._handle(js, message)
        finally:
            await nc.drain()

    async def _handle(self, js: Any, message: Any) -> None:
        try:
            submission_id = int(json.loads(message.data)["submission_id"])
        except (ValueError, KeyError, TypeError):
            await js.publish(self._scale.nats_dead_subject, message.data, headers={"Crossmatch-Reason": "not a submission message"})
            await message.term()
            return
        delivered = message.metadata.num_delivered
        self.stats.seen.append(submission_id)
        if delivered >= self._scale.nats_max_deliver:
            # Every worker that took it before went silent (killed, out of memory): do not try again.
            reason = f"gave up after {delivered} deliveries: each worker that took it died or hung; resubmit or report this"
            if self._submissions.fail(submission_id, reason):
                await js.publish(self._scale.nats_dead_subject, message.data,
                                 headers={"Crossmatch-Reason": reason, "Nats-Msg-Id": f"dead-{submission_id}"})
                self.stats.dead += 1
            await message.term()
            return
        heartbeat = asyncio.create_task(self._keep_alive(message))
        try:
            outcome = await asyncio.to_thread(self._submissions.process_id, submission_id, delivered > 1)
        finally:
            heartbeat.cancel()
        if outcome == "busy":  # another worker is scanning it right now: look again after its lease could lapse
            await message.nak(delay=self._scale.nats_ack_wait_s)
            return
        self.stats.scanned += outcome == "scanned"
        self.stats.finished_before += outcome == "finished"
        self.stats.taken_over += outcome == "scanned" and delivered > 1
        await message.ack_sync()  # the result is committed: now JetStream may forget the message
        if self._on_item is not None:
            self._on_item(submission_id, outcome)

    async def _keep_alive(self, message: Any) -> None:
        while True:
            await asyncio.sleep(max(0.5, self._scale.nats_ack_wait_s / 3))
            await message.in_progress()

    async def _sweep(self, js: Any) -> None:
        from crossmatch.store.models import utcnow

        ids = await asyncio.to_thread(self._submissions.queued_before, utcnow() - timedelta(seconds=SWEEP_S))
        for submission_id in ids:
            await js.publish(self._scale.nats_subject, json.dumps({"submission_id": submission_id}).encode(),
                             headers={"Nats-Msg-Id": f"submission-{submission_id}"})
