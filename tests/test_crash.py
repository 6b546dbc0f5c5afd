"""kill -9 the server mid-delivery: after a restart every pending action is delivered, none lost;
and a killed server leaves none of its hashing processes behind.

Delivery is at-least-once; the receiver dedupes by X-Crossmatch-Delivery, so
each action reaches it exactly once as far as the receiver is concerned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


from crossmatch.actions.service import ActionService
from crossmatch.api.healthcheck import free_port, wait_until_healthy
from crossmatch.context import open_context
from crossmatch.settings import Settings
from test_api_support import Receiver

N_ACTIONS = 16
ENV = {
    "CROSSMATCH_SERVICE__WEBHOOK_BACKOFF_S": "0.2",
    "CROSSMATCH_SERVICE__WEBHOOK_BACKOFF_MAX_S": "1.0",
    "CROSSMATCH_SERVICE__WEBHOOK_MAX_ATTEMPTS": "1000",
    "CROSSMATCH_SERVICE__WEBHOOK_TIMEOUT_S": "1",
    "CROSSMATCH_SERVICE__WORKER_POLL_S": "0.2",
}



def start_server(home: Path, port: int) -> subprocess.Popen:
    crossmatch = Path(sys.executable).with_name("crossmatch")
    env = {**os.environ, **ENV}
    proc = subprocess.Popen([str(crossmatch), "--home", str(home), "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return wait_until_healthy(proc, port, 120)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_kill_9_loses_no_action(tmp_path):
    home = tmp_path / "home"
    hook_port, api_port = free_port(), free_port()
    with open_context(Settings(home=home)) as ctx:
        actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
        actions.create_webhook("platform", f"http://127.0.0.1:{hook_port}/hook", ["match.auto"])
        ids = [i for n in range(N_ACTIONS) for i in actions.enqueue("match.auto", {"item": f"upload-{n}"})]
    assert len(ids) == N_ACTIONS

    receiver = None
    server = start_server(home, api_port)
    try:
        # Receiver down: attempts fail and back off; then it comes up slow, and the server dies mid-way.
        with open_context(Settings(home=home)) as ctx:
            actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
            wait_for(lambda: all(a["attempts"] >= 1 for a in actions.list_actions(limit=1000)), 60, "first failed attempts")
            receiver = Receiver(port=hook_port)
            receiver.mode, receiver.delay = "slow", 0.15
            wait_for(lambda: len(receiver.accepted()) >= 3, 60, "some deliveries")
            server.send_signal(signal.SIGKILL)
            server.wait(10)
            delivered_before = actions.counts()["delivered"]
            assert delivered_before < N_ACTIONS  # the kill really interrupted the work

            receiver.mode = "ok"
            server = start_server(home, api_port)
            wait_for(lambda: actions.counts()["delivered"] == N_ACTIONS, 90, "every action delivered after restart")
            rows = actions.list_actions(limit=1000)
        stored = {a["delivery_id"] for a in rows}
        assert len(stored) == N_ACTIONS and all(a["status"] == "delivered" for a in rows)
        received = receiver.unique_deliveries()
        assert set(received) == stored  # none lost, none invented
        items = sorted(int(__import__("json").loads(r["body"])["data"]["item"].split("-")[1]) for r in received.values())
        assert items == list(range(N_ACTIONS))
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        if receiver is not None:
            receiver.close()


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc: children of children included)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its (dead) parent could reap it


@pytest.mark.slow
def test_kill_9_of_the_server_leaves_no_hash_workers(tmp_path, evaldata):
    """An OOM kill or kill -9 of `crossmatch serve` must not leave its hashing processes behind:
    each holds hundreds of MiB, and a supervisor restarting the server would pile them up."""
    home = tmp_path / "home"
    crossmatch = str(Path(sys.executable).with_name("crossmatch"))
    made = subprocess.run([crossmatch, "--home", str(home), "token", "create", "--name", "orphans", "--role", "hasher",
                           "--json"], capture_output=True, text=True, check=True)
    token = __import__("json").loads(made.stdout)["token"]
    photo = evaldata / "threatexchange-pdq-vpdq-tmk/bridge-mods/aaa-orig.jpg"
    port = free_port()
    server = start_server(home, port)
    try:
        import httpx

        with photo.open("rb") as fh:  # the first upload starts the pool's worker processes
            answer = httpx.post(f"http://127.0.0.1:{port}/h/hash", files={"photo": ("p.jpg", fh, "image/jpeg")},
                                headers={"Authorization": f"Bearer {token}"}, timeout=120)
        assert answer.status_code == 200, answer.text
        assert "pdq" in answer.json()
        helpers = _descendants(server.pid)
        assert helpers, "the upload should have started hashing processes"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    wait_for(lambda: not any(_alive(pid) for pid in helpers), 30, f"the server's processes {sorted(helpers)} to exit")
