"""Loopback stand-ins for ThreatExchange ``threat_updates`` and reactions, the TCAP hash list API,
and NCMEC's hash sharing API (entries, feedback reasons, feedback).

They speak the documented shapes (Graph API paging with ``paging.next``; TCAP
pages with ``count/next/previous/checkpoint/results`` and an ``after``
checkpoint) so the python-threatexchange clients talk to them unchanged.
``failures`` is a queue of faults served to the next matching requests:
``500``, ``broken`` (half a JSON page) or ``hang`` (answer after ``hang_s``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeExchangeServer:
    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.te_updates: list[dict[str, Any]] = []  # threat_updates records
        self.tcap_entries: list[dict[str, Any]] = []
        self.failures: list[tuple[str, str]] = []  # (path fragment, fault)
        self.hang_s = 3.0
        self.requests: list[str] = []
        self.te_reactions: list[tuple[int, str]] = []  # (descriptor id, reaction) as posted
        self.ncmec_entries: list[dict[str, Any]] = []  # {"id", "member", "pdq"}
        self.ncmec_reasons: dict[str, str] = {"5f4b7c1e-0000-4000-8000-000000000001": "Not the reported content"}
        self.ncmec_feedback: list[tuple[str, str]] = []  # (path, XML body) as put
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeExchangeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, fragment: str, fault: str, times: int = 1) -> None:
        self.failures.extend([(fragment, fault)] * times)

    # -- pages -------------------------------------------------------------
    def te_page(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        start = int(query.get("start_time", ["0"])[0] or 0)
        offset = int(query.get("offset", ["0"])[0])
        rows = sorted((u for u in self.te_updates if u["last_updated"] >= start), key=lambda u: (u["last_updated"], u["id"]))
        page = rows[offset : offset + self.page_size]
        out: dict[str, Any] = {"data": page, "paging": {}}
        if offset + self.page_size < len(rows):
            out["paging"]["next"] = f"{self.url}{path}?start_time={start}&offset={offset + self.page_size}&access_token=x"
        return out

    def tcap_page(self, raw_query: str) -> dict[str, Any]:
        after = (parse_qs(raw_query).get("after", [""])[0])
        match = re.search(r"offset=(\d+)", raw_query)
        offset = int(match.group(1)) if match else 0
        rows = sorted(self.tcap_entries, key=lambda e: (e["updated_on"], e["id"]))
        if after:
            ts, _, last_id = after.partition(",")
            rows = [e for e in rows if (e["updated_on"], e["id"]) > (float(ts), int(last_id))]
        page = rows[offset : offset + self.page_size]
        more = offset + self.page_size < len(rows)
        return {
            "count": len(rows),
            "next": f"{self.url}/api/hash-list/v2/all?limit={self.page_size}&offset={offset + self.page_size}" if more else None,
            "previous": None,
            "checkpoint": f"{page[-1]['updated_on']},{page[-1]['id']}" if page else after,
            "results": page,
        }

    def ncmec_entries_xml(self) -> bytes:
        images = "".join(f'<image><id>{e["id"]}</id><member id="{e["member"]}">ESP {e["member"]}</member>'
                         f'<classification>A1</classification><fingerprints><pdq>{e["pdq"]}</pdq></fingerprints></image>'
                         for e in self.ncmec_entries)
        return (f'<?xml version="1.0"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
                f'<images count="{len(self.ncmec_entries)}" maxTimestamp="2024-01-01T00:00:00Z">{images}</images>'
                f'</queryResult>').encode()

    def ncmec_reasons_xml(self) -> bytes:
        reasons = "".join(f'<reason guid="{g}" name="{n}"/>' for g, n in self.ncmec_reasons.items())
        return (f'<?xml version="1.0"?><feedbackReasons xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
                f'<availableFeedbackReasons>{reasons}</availableFeedbackReasons></feedbackReasons>').encode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _fault(self) -> bool:
                for i, (fragment, fault) in enumerate(fake.failures):
                    if fragment in self.path:
                        fake.failures.pop(i)
                        if fault == "hang":
                            time.sleep(fake.hang_s)
                            return False
                        if fault == "500":
                            self._send(500, b'{"error": "internal"}')
                        elif fault == "broken":
                            self._send(200, b'{"data": [{"id": "1", "indic')
                        return True
                return False

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_POST(self) -> None:
                fake.requests.append("POST " + self.path)
                self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if self._fault():
                    return
                parts = urlsplit(self.path)
                reacted = re.fullmatch(r"/(\d+)/", parts.path)
                if self.path.startswith("/token-auth/tcap"):
                    self._send(200, json.dumps({"token": "fake-token", "user": {}}).encode())
                elif reacted and "reactions" in parse_qs(parts.query):  # the Graph API's reacting call
                    fake.te_reactions.append((int(reacted.group(1)), parse_qs(parts.query)["reactions"][0]))
                    self._send(200, b'{"success": true}')
                else:
                    self._send(404, b"{}")

            def do_PUT(self) -> None:
                fake.requests.append("PUT " + self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)).decode()
                if self._fault():
                    return
                if re.fullmatch(r"/v2/entries/\d+/[^/]+/[A-Z_]+/feedback", self.path) and self.headers.get("Authorization"):
                    fake.ncmec_feedback.append((self.path, body))
                    self._send(200, b"<feedbackSubmissionResult/>")
                else:
                    self._send(404, b"<error/>")

            def do_GET(self) -> None:
                fake.requests.append("GET " + self.path)
                if self._fault():
                    return
                parts = urlsplit(self.path)
                if parts.path in ("/v2/entries", "/v2/feedback/PDQ/reasons"):  # NCMEC (XML, basic auth)
                    if not self.headers.get("Authorization", "").startswith("Basic "):
                        self._send(401, b"<error/>")
                    else:
                        self._send(200, fake.ncmec_entries_xml() if parts.path == "/v2/entries" else fake.ncmec_reasons_xml())
                    return
                if parts.path.endswith("/threat_updates/"):
                    body = fake.te_page(parts.path, parse_qs(parts.query))
                elif parts.path.startswith("/api/hash-list/v2/all"):
                    if self.headers.get("Authorization") != "Bearer fake-token":
                        self._send(401, b'{"detail": "not authenticated"}')
                        return
                    body = fake.tcap_page(parts.query)
                else:
                    self._send(404, b"{}")
                    return
                self._send(200, json.dumps(body).encode())

        return Handler


def te_record(rid: int, indicator: str, kind: str = "HASH_PDQ", updated: int = 1000, delete: bool = False,
              tags: list[str] | None = None, status: str = "MALICIOUS", owner: int = 1234567890) -> dict[str, Any]:
    """One /threat_updates record as the Graph API returns it with pytx's field selection."""
    record: dict[str, Any] = {"id": str(rid), "indicator": indicator, "type": kind, "last_updated": updated, "should_delete": delete}
    if not delete:
        record["descriptors"] = {"data": [{"id": str(rid * 10), "owner": {"id": str(owner)}, "status": status,
                                           "tags": tags or [], "reactions": []}]}
    return record


def tcap_entry(rid: int, digest: str, algorithm: str = "PDQ", updated: float = 1704085200.0, deleted: bool = False,
               **extra: Any) -> dict[str, Any]:
    entry = {"id": rid, "hash_digest": digest, "algorithm": algorithm, "ideology": "far-right", "file_type": "jpg",
             "deleted": deleted, "updated_on": updated, "created_on": "2024-01-01T05:00:00Z"}
    entry.update(extra)
    return entry
