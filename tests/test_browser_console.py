"""The review console in a real browser (Debian's chromium via Playwright) against a real server.

One server, seeded once (posters, a Russian and an Arabic text, a video excerpt), then: axe-core on
every page, nothing lost on an expired session, note drafts, right-to-left passages, allow-listing
asks first, escalation, layout at 1366x768 and 390 px, help and shortcuts that can be turned off,
reveal by region.  With CROSSMATCH_UPDATE_SCREENSHOT=1 it refreshes the README's screenshots in docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from crossmatch.review.demo import seed_demo
from crossmatch.settings import Settings
from test_api_support import app_in_thread

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PASSWORD = "browser-console-password"

pytestmark = [pytest.mark.service, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'playwright' Python package (browser extra: pip install -e '.[browser]')")
uvicorn = pytest.importorskip("uvicorn", reason="needs uvicorn (server extra)")
axe_pkg = pytest.importorskip("axe_playwright_python", reason="needs axe-playwright-python (browser extra), which ships axe-core")
AXE = Path(axe_pkg.__file__).parent / "axe.min.js"
if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip("needs Debian's chromium (apt-get install chromium; see deps/apt-review.txt)", allow_module_level=True)



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from crossmatch.api.app import create_app

    settings = Settings.load(home=tmp_path_factory.mktemp("console") / "home", workers=1, deep_scan=False,
                             service={"secret_key": "c" * 40, "worker_poll_s": 0.2})
    app = create_app(settings)
    seed_demo(app.state, password=PASSWORD, posters=3, text=True, arabic=True, video=True)
    for name, role in (("bob", "reviewer"), ("sen", "senior"), ("root", "admin")):
        app.state.users.create(name, PASSWORD, role)
    with app_in_thread(app) as base:
        yield base, app
    app.state.ctx.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def sign_in(page, base: str, user: str = "reviewer") -> None:
    page.goto(f"{base}/signin")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()


def case_of(app, item: str) -> int:
    return next(c.id for c in app.state.review.list_cases(status=None, limit=500) if item in c.item)


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => { const r = await axe.run(document); return [r.passes.length,"
                           " r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))]; }")
    assert result[0] > 10, "axe-core did not run its rules"
    return result[1]


def test_axe_finds_no_violation_on_any_page_and_screenshots(server, browser, tmp_path) -> None:
    base, app = server
    shots = DOCS if os.environ.get("CROSSMATCH_UPDATE_SCREENSHOT") else tmp_path
    image, russian, arabic, video = (case_of(app, k) for k in ("flipped", "post-ru", "post-ar", ".mp4"))
    # README screenshots: the case view of an image, a cross-lingual text and a video match.
    page = browser.new_page(viewport={"width": 1280, "height": 1350})  # tall enough that the sticky bar covers nothing
    sign_in(page, base, "reviewer")
    for name, case_id in (("case-image.png", image), ("case-text-xling.png", arabic), ("case-video.png", video)):
        page.goto(f"{base}/cases/{case_id}")
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        page.screenshot(path=str(shots / name))
    page.close()
    # axe-core is injected as an inline script, which the app's Content-Security-Policy rightly blocks.
    page = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True).new_page()
    page.goto(f"{base}/signin")
    found = {"/signin": axe_violations(page)}
    sign_in(page, base, "root")
    app.state.review.claim(image, "bob")
    app.state.review.decide(image, "bob", "escalate", "is this the same poster?", role="reviewer")
    pages = ["/queue", "/escalations", "/reports", "/allow-proposals", "/banks", "/banks/sample-posters", "/dead-letters",
             f"/cases/{image}", f"/cases/{russian}", f"/cases/{arabic}", f"/cases/{video}", "/cases/999999"]
    for path in pages:
        page.goto(base + path)
        found[path] = axe_violations(page)
    page.goto(f"{base}/cases/{video}")
    page.keyboard.press("a")  # the allow-list confirmation
    page.wait_for_selector("text=Allow-list this content?")
    found["allow confirmation"] = axe_violations(page)
    page.goto(f"{base}/queue")
    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    found["help"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    page.close()


def test_expired_session_keeps_the_decision_and_drafts_survive_navigation(server, browser) -> None:
    base, app = server
    case_id = case_of(app, "greyscale")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in(page, base)
    page.goto(f"{base}/cases/{case_id}")
    page.keyboard.press("n")
    page.keyboard.type("same poster, recoloured")
    page.keyboard.press("Escape")
    if page.locator("#next-case").count():
        page.keyboard.press("j")  # move on without deciding: the draft stays on this device
        page.wait_for_url(lambda url: f"/cases/{case_id}?" not in url and f"/cases/{case_id}" not in url)
    page.goto(f"{base}/cases/{case_id}")
    assert page.input_value("#note") == "same poster, recoloured"
    context.clear_cookies()  # the session expires while the reviewer reads
    page.keyboard.press("c")
    page.wait_for_selector("#expired")
    assert "confirm" in page.text_content("#expired")
    page.fill("#username", "reviewer")
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_selector("#resumed")
    assert page.input_value("#note") == "same poster, recoloured"
    assert app.state.review.get_case(case_id).status == "open"
    page.keyboard.press("c")
    page.wait_for_selector(f"text=Case {case_id}: confirm recorded")
    decided = app.state.review.get_case(case_id)
    assert decided.status == "confirmed" and decided.decisions[-1].note == "same poster, recoloured"
    assert page.evaluate(f"() => localStorage.getItem('crossmatch-note-{case_id}')") is None  # stored: draft dropped
    context.close()


def test_arabic_is_right_to_left_each_passage_once_and_video_range_marked(server, browser) -> None:
    base, app = server
    page = browser.new_page()
    sign_in(page, base)
    page.goto(f"{base}/cases/{case_of(app, 'post-ar')}")
    passages = page.locator("p.passage[lang=ar]")
    assert passages.count() == 3 and passages.first.get_attribute("dir") == "rtl"
    assert passages.first.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert "Text in Arabic, aligned with 3 of 3 sentences of the bank text (English)" in page.text_content(".matches")
    page.goto(f"{base}/cases/{case_of(app, '.mp4')}")
    assert "Seconds 20–32 of the bank video appear at 0:00–0:12 of the upload" in page.text_content(".matches")
    hit = page.locator(".timeline .hit").first
    assert hit.count() and float(hit.evaluate("el => el.getBoundingClientRect().width")) > 0
    page.close()


def test_allow_key_asks_first_and_escalation_cannot_be_self_decided(server, browser) -> None:
    base, app = server
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, base, "bob")
    case_id = case_of(app, "post-ru")
    page.goto(f"{base}/cases/{case_id}")
    page.keyboard.press("a")
    page.wait_for_selector("text=Allow-list this content?")
    assert app.state.review.get_case(case_id).status == "open"
    page.click("text=Cancel")
    page.fill("#note", "needs an Arabic and Russian reader")
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    page.wait_for_selector(f"text=Case {case_id}: escalate recorded")
    page.goto(f"{base}/cases/{case_id}")
    assert page.locator("#decide").count() == 0 and "you escalated case" in page.text_content("main")
    page.keyboard.press("c")  # nothing to press
    assert app.state.review.get_case(case_id).status == "escalated"
    page.close()


def test_layout_focus_never_hidden_queue_reflows_help_and_shortcuts_off(server, browser) -> None:
    base, app = server
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, base, "sen")
    page.goto(f"{base}/cases/{case_of(app, '.mp4')}")
    hidden = []
    for _ in range(40):  # tab through the page: nothing focused sits under the sticky decision bar
        page.keyboard.press("Tab")
        hidden += page.evaluate("""() => { const el = document.activeElement, bar = document.getElementById('decide');
            if (!bar || !el || bar.contains(el) || el === document.body) return [];
            const r = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
            return r.bottom > b.top + 1 && r.top < b.bottom ? [el.outerHTML.slice(0, 80)] : []; }""")
    assert hidden == []
    page.goto(f"{base}/queue")
    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    page.uncheck("#shortcuts-on")
    page.keyboard.press("Escape")
    page.goto(f"{base}/cases/{case_of(app, '.mp4')}")
    page.keyboard.press("s")  # shortcuts are off: no claim
    time.sleep(0.5)
    assert app.state.review.get_case(case_of(app, ".mp4")).claimed_by is None
    page.close()
    narrow = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(narrow, base)
    narrow.goto(f"{base}/queue")
    assert narrow.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    narrow.close()


def test_reveal_by_region_shows_a_small_clear_part_and_is_audited(server, browser) -> None:
    base, app = server
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base, "bob")
    case_id = case_of(app, "resized") if any("resized" in c.item for c in app.state.review.list_cases(status=None)) else case_of(app, "flipped")
    page.goto(f"{base}/cases/{case_id}")
    page.wait_for_function("() => document.querySelector('#media-query').complete")
    box = page.locator("#media-query").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_function("() => { const l = document.querySelector('img.lens'); return l && l.complete && l.naturalWidth > 0; }")
    lens = page.locator("img.lens")
    assert lens.evaluate("el => getComputedStyle(el).display") == "block"
    assert "circle" in lens.evaluate("el => el.style.clipPath")
    page.mouse.up()
    assert lens.evaluate("el => getComputedStyle(el).display") == "none"
    assert f"case:{case_id}" in {r.target for r in app.state.audit.query(action="media.reveal")}
    page.close()
