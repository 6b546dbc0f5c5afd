"""Real processes around the JetStream upload stream, for tests/test_stream.py and bench/stream.py.

Worker processes are ``crossmatch serve --role worker`` with ``scale.queue = "nats"``,
started and killed as an operator would; the submitting side is the API's own
SubmissionService with a JetStream publisher.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from crossmatch.api.healthcheck import free_port
from crossmatch.settings import Settings


def stream_settings(home: Path, nats_url: str, database_url: str | None = None, ack_wait_s: float = 3.0) -> Settings:
    """Settings with a stream of its own (a unique name), so runs never share messages."""
    tag = uuid.uuid4().hex[:8].upper()
    return Settings.load(home=home, database_url=database_url, workers=1, deep_scan=False, scale={
        "queue": "nats", "nats_url": nats_url, "nats_stream": f"CM_TEST_{tag}", "nats_subject": f"cmtest.{tag}.submissions",
        "nats_dead_subject": f"cmtest.{tag}.dead", "nats_ack_wait_s": ack_wait_s, "nats_max_deliver": 4},
        service={"worker_poll_s": 0.2})



def start_worker(settings: Settings) -> subprocess.Popen:
    """``crossmatch serve --role worker`` with these settings; returns once it answers health checks."""
    port = free_port()
    env = {**os.environ, "CROSSMATCH_SCALE": settings.scale.model_dump_json(), "CROSSMATCH_DEEP_SCAN": "false",
           "CROSSMATCH_WORKERS": "1", "CROSSMATCH_SERVICE__WORKER_POLL_S": "0.2"}
    if settings.database_url:
        env["CROSSMATCH_DATABASE_URL"] = settings.database_url
    crossmatch = Path(sys.executable).with_name("crossmatch")
    proc = subprocess.Popen([str(crossmatch), "--home", str(settings.home), "serve", "--role", "worker", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    from crossmatch.api.healthcheck import wait_until_healthy

    return wait_until_healthy(proc, port, 120, "worker")


def submission_service(cx: Any, settings: Settings) -> Any:
    """The API's SubmissionService, publishing to JetStream, as ``create_app`` wires it."""
    from crossmatch.actions.service import ActionService
    from crossmatch.api.submissions import SubmissionService
    from crossmatch.audit.service import AuditLog
    from crossmatch.review.service import ReviewService
    from crossmatch.scale.stream import Publisher

    actions = ActionService(cx.sessions, settings, cx.banks)
    review = ReviewService(cx.sessions, cx.banks, AuditLog(cx.sessions), actions, settings)
    service = SubmissionService(cx.sessions, settings, cx.engine, actions, review)
    service.publisher = Publisher(settings.scale)
    return service


def statuses(cx: Any) -> dict[int, str]:
    from sqlalchemy import select

    from crossmatch.api.submissions import Submission

    with cx.sessions() as session:
        return dict(session.execute(select(Submission.id, Submission.status)).all())


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def delete_streams(settings: Settings) -> None:
    from crossmatch.scale.stream import connect

    async def drop() -> None:
        nc, js = await connect(settings.scale)
        for name in (settings.scale.nats_stream, f"{settings.scale.nats_stream}_DEAD"):
            try:
                await js.delete_stream(name)
            except Exception:
                pass
        await nc.drain()

    asyncio.run(drop())


def dead_letters(settings: Settings) -> int:
    from crossmatch.scale.stream import connect

    async def count() -> int:
        nc, js = await connect(settings.scale)
        info = await js.stream_info(f"{settings.scale.nats_stream}_DEAD")
        await nc.drain()
        return int(info.state.messages)

    return asyncio.run(count())
