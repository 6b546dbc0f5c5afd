"""Issue 15 finding 21: the exactly-once receiver in docs/webhooks.md works as written.

The documented block is run as is against real deliveries from crossmatch, a
redelivery of the same action (what a crash between send and mark produces) and a
forged request: the effect happens once, and the forgery changes nothing.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
from sqlalchemy import update

from crossmatch.actions.delivery import Deliverer
from crossmatch.actions.models import Action
from crossmatch.actions.service import ActionService
from crossmatch.context import open_context
from crossmatch.settings import ServiceSettings
from test_api_support import make_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def receiver_code() -> dict:
    block = re.search(r"^## An exactly-once receiver.*?^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)
    assert block, "docs/webhooks.md lost its receiver example"
    namespace: dict = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102  (our own documentation)
    return namespace


def test_documented_receiver_applies_each_delivery_once(tmp_path: Path) -> None:
    doc = receiver_code()
    with open_context(make_settings(tmp_path / "home", None)) as ctx:
        actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
        hook, secret = actions.create_webhook("platform", "http://127.0.0.1:1/placeholder", ["match.auto", "decision"])
        server = doc["make_server"](str(tmp_path / "receiver.db"), secret.encode(), port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            actions.update_webhook(hook["id"], url=url)
            actions.enqueue("match.auto", {"item": "upload-1.jpg"})
            actions.enqueue("decision", {"case_id": 7, "decision": "confirm"})
            assert Deliverer(ctx.sessions, ServiceSettings()).deliver_due().delivered == 2
            # A crash after the POST and before the mark: both actions go out again, same ids and bodies.
            with ctx.sessions.begin() as session:
                session.execute(update(Action).values(status="pending", due_at=0.0))
            assert Deliverer(ctx.sessions, ServiceSettings()).deliver_due().delivered == 2
            forged = httpx.post(url, content=b'{"event": "match.auto", "data": {"item": "forged"}}',
                                headers={"X-Crossmatch-Signature": "sha256=" + "0" * 64, "X-Crossmatch-Delivery": "forged-1"})
            assert forged.status_code == 401
        finally:
            server.shutdown()
            server.server_close()
    db = doc["open_store"](str(tmp_path / "receiver.db"))
    rows = db.execute("SELECT event, item, case_id FROM takedowns ORDER BY event").fetchall()
    assert rows == [("decision", None, 7), ("match.auto", "upload-1.jpg", None)]
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 2
