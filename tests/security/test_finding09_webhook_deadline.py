"""Issue 15 finding 9: a receiver that drips its answer cannot hold up the other receivers.

Before the fix, delivery was one sequential loop and its timeout applied per read,
so a receiver sending a byte every few seconds kept the pass (and every other
webhook) waiting for as long as it liked.  Now each request has a total deadline
and webhooks are served side by side.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from crossmatch.actions.delivery import Deliverer
from crossmatch.actions.service import ActionService
from crossmatch.context import open_context
from crossmatch.settings import ServiceSettings
from test_api_support import BACKENDS, database_url, make_settings, receiver, unique  # noqa: F401  (fixture)


class DripReceiver:
    """Answers 200 with a 40-byte body, one byte every 0.25 s (10 s in all), unless the client hangs up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.finished = threading.Event()  # the whole answer went out
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
                for _ in range(40):
                    conn.sendall(b"x")
                    time.sleep(0.25)
            except OSError:
                return  # the deliverer gave up and closed the connection
            self.finished.set()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=BACKENDS)
def ctx(request, tmp_path: Path) -> Iterator:
    with database_url(request.param) as url:
        with open_context(make_settings(tmp_path / "home", url)) as context:
            yield context


def test_a_dripping_receiver_is_cut_off_and_does_not_delay_the_others(ctx, receiver) -> None:
    actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
    drip = DripReceiver()
    try:
        slow_hook, _ = actions.create_webhook(unique("slow"), drip.url, ["decision"])  # first: its action is due first
        fast_hook, _ = actions.create_webhook(unique("fast"), receiver.url, ["decision"])
        by_hook = {actions.get_action(a)["webhook_id"]: a for a in actions.enqueue("decision", {"case_id": 1})}
        assert set(by_hook) == {slow_hook["id"], fast_hook["id"]}
        deliverer = Deliverer(ctx.sessions, ServiceSettings(webhook_timeout_s=1.0, webhook_backoff_s=60.0))
        report = deliverer.deliver_due()
        assert not drip.finished.is_set()  # the pass did not wait for the dripping answer ...
        assert report.delivered == 1 and report.failed == 1
        assert len(receiver.accepted()) == 1  # ... and the other receiver got its delivery meanwhile
        slow = actions.get_action(by_hook[slow_hook["id"]])
        assert slow["status"] == "pending" and "deadline" in slow["last_error"]
    finally:
        drip.close()
