"""A real browser (Debian's chromium driven by Playwright) against a real server on 127.0.0.1.

Signs in, opens an image case, checks the preview is blurred and greyscale,
reveals it, decides with the keyboard, and sees the decision webhook arrive at
a local receiver.  With CROSSMATCH_UPDATE_SCREENSHOT=1 it refreshes docs/screenshots/case-view.png.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crossmatch.actions.delivery import verify
from crossmatch.review.demo import seed_demo
from crossmatch.settings import Settings
from test_api_support import app_in_thread

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The README's screenshot is refreshed only on request, so a test run leaves the tree clean.
README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "case-view.png"
PASSWORD = "browser-test-password"

pytestmark = pytest.mark.service  # drives a real browser against a real server: not in `make test-fast`
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs the 'playwright' Python package (browser extra: pip install -e '.[browser]')")
uvicorn = pytest.importorskip("uvicorn", reason="the browser test needs uvicorn (server extra)")
if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip("the browser test needs Debian's chromium (apt-get install chromium; see deps/apt-review.txt)", allow_module_level=True)



class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((json.loads(body), body, dict(self.headers)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path):
    from crossmatch.api.app import create_app

    Receiver.received = []
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    settings = Settings.load(home=tmp_path / "home", workers=1, deep_scan=False,
                             service={"secret_key": "b" * 40, "worker_poll_s": 0.2})
    app = create_app(settings)
    seed_demo(app.state, password=PASSWORD)
    _, secret = app.state.actions.create_webhook("receiver", f"http://127.0.0.1:{sink.server_port}/hook", ["decision"])
    with app_in_thread(app) as base:
        yield base, app, secret
    sink.shutdown()
    sink.server_close()


def grey_pixels(page, selector: str) -> bool:
    """Whether the image as served (before CSS filters) has only grey pixels."""
    return page.evaluate(
        """(sel) => { const img = document.querySelector(sel);
            const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) { if (Math.abs(d[i] - d[i+1]) > 3 || Math.abs(d[i+1] - d[i+2]) > 3) return false; }
            return true; }""",
        selector,
    )


def test_review_in_a_real_browser(server, tmp_path) -> None:
    base, app, secret = server
    screenshot = README_SCREENSHOT if os.environ.get("CROSSMATCH_UPDATE_SCREENSHOT") else tmp_path / "case-view.png"
    case = next(c for c in app.state.review.list_cases() if c.kind == "image" and "greyscale" not in c.item)  # a colour edit
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1150})
            page.goto(f"{base}/queue")
            assert "/signin" in page.url
            page.fill("#username", "reviewer")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/queue")
            page.click(f"a[href^='/cases/{case.id}?']")
            page.wait_for_url(f"{base}/cases/{case.id}*")

            img = page.locator("#media-query")
            page.wait_for_function("() => document.querySelector('#media-query').complete && document.querySelector('#media-query').naturalWidth > 0")
            assert "blurred" in (img.get_attribute("class") or "")
            assert "clear=0" in img.get_attribute("src")
            assert "blur" in img.evaluate("el => getComputedStyle(el).filter")
            assert grey_pixels(page, "#media-query"), "the default preview must be served greyscale"
            assert not app.state.audit.query(action="media.reveal")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))

            page.keyboard.press("v")  # reveal all, by keyboard
            page.wait_for_function("() => document.querySelector('#media-query').src.includes('clear=1') && document.querySelector('#media-query').complete && document.querySelector('#media-query').naturalWidth > 0")
            assert "blurred" not in (img.get_attribute("class") or "")
            assert img.evaluate("el => getComputedStyle(el).filter") == "none"
            assert not grey_pixels(page, "#media-query"), "the revealed preview is the colour image"
            assert page.get_by_role("button", name="Blur").first.get_attribute("aria-pressed") == "true"

            page.keyboard.press("n")
            page.keyboard.type("same poster, edited")
            page.keyboard.press("Escape")
            page.keyboard.press("c")  # confirm
            page.wait_for_selector(f"text=Case {case.id}: confirm recorded")  # the next case, with a note of what was done
        finally:
            browser.close()

    decided = app.state.review.get_case(case.id)
    assert decided.status == "confirmed" and decided.decisions[0].note == "same poster, edited"
    revealed = {r.target for r in app.state.audit.query(action="media.reveal")}
    assert revealed == {f"case:{case.id}", f"bank_item:{case.matches[0].bank_item_id}"}  # "v" reveals both sides
    deadline = time.monotonic() + 60
    while not Receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Receiver.received, "the decision webhook did not arrive"
    body, raw, headers = Receiver.received[0]
    assert body["event"] == "decision" and body["data"]["case_id"] == case.id and body["data"]["decision"] == "confirm"
    assert body["data"]["actor"] == "reviewer" and body["data"]["note"] == "same poster, edited"
    signature = next(v for k, v in headers.items() if "signature" in k.lower())
    assert verify(secret, raw, signature)
