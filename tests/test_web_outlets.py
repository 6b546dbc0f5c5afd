"""The Outlets page of the review UI: a small outlet built through the real CLI scan, seen by a signed-in analyst.

Pages: the outlets list, one outlet's accounts, weekly timeline and graph data (raw handles only for
analysts), refusals for a matcher and for no one signed in; and, in Debian's chromium when present,
the graph drawn on a canvas without CSP or console errors.  With CROSSMATCH_UPDATE_SCREENSHOT=1 the
browser test refreshes docs/screenshots/outlets.png.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crossmatch.api.app import create_app
from crossmatch.errors import Conflict
from crossmatch.samples import make_poster, to_bytes
from crossmatch.settings import Settings
from test_api_support import app_in_thread
from test_outlets_flow import run, write_export

PASSWORD = "outlets-page-password"
CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
HANDLES = ("@NewVoice_ru", "newvoice_kz", "newvoice.uz")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Three accounts on two platforms posting edits of banked posters and a new release: one outlet."""
    root = tmp_path_factory.mktemp("outlets-web")
    home, known = root / "home", root / "known"
    known.mkdir()
    for seed in (1, 2, 3):
        (known / f"poster_{seed}.jpg").write_bytes(to_bytes(make_poster(seed)))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CROSSMATCH_OUTLETS__KEEP_HANDLES", "true")
        run(home, "bank", "create", "posters")
        run(home, "bank", "import", "posters", str(known))
        summary = run(home, "outlets", "scan", str(write_export(root / "export")), "--json")[-1]["summary"]
    assert summary["outlets"] == 1, summary
    return home


def make_app(home: Path):
    settings = Settings.load(home=home, workers=1, deep_scan=False, outlets={"keep_handles": True},
                             service={"background_workers": False, "secret_key": "o" * 40})
    app = create_app(settings)
    for name, role in (("ana", "analyst"), ("rev", "reviewer"), ("mat", "matcher")):
        with contextlib.suppress(Conflict):  # both tests open the same home
            app.state.users.create(name, PASSWORD, role)
    return app


def sign_in(client: TestClient, user: str, next: str = "/outlets"):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    return client.post("/signin", data={"username": user, "password": PASSWORD, "csrf": token, "next": next},
                       follow_redirects=False)


def test_analyst_sees_outlet_accounts_timeline_and_graph_others_are_refused(home):
    app = make_app(home)
    try:
        with TestClient(app) as client:
            unsigned = client.get("/outlets/1", follow_redirects=False)
            assert unsigned.status_code == 303 and unsigned.headers["location"].startswith("/signin?next=/outlets")

            assert sign_in(client, "ana", next="/queue").headers["location"] == "/outlets"  # an analyst lands here
            listing = client.get("/outlets")
            assert listing.status_code == 200 and 'href="/outlets"' in listing.text  # the nav link
            [outlet] = app.state.outlets.outlets()
            assert f'href="/outlets/{outlet["outlet_id"]}"' in listing.text
            assert all(a in listing.text for a in outlet["accounts"]) and "telegram: 2" in listing.text
            assert "newvoice" not in listing.text.lower()  # the list shows pseudonyms only

            page = client.get(f"/outlets/{outlet['outlet_id']}")
            assert page.status_code == 200, page.text
            html = page.text
            assert len(outlet["accounts"]) == 3 and all(f"<code>{a}</code>" in html for a in outlet["accounts"])
            assert all(h in html for h in HANDLES)  # an analyst sees the kept handles
            assert re.search(r"\d{4}-W\d\d", html) and "<meter" in html
            assert '<script src="/static/vendor/cytoscape.min.js" defer>' in html
            graph = json.loads(re.search(r'<script type="application/json" id="outlet-graph-data">(.*?)</script>',
                                         html, re.S).group(1))
            assert sorted(n["data"]["id"] for n in graph["nodes"]) == sorted(outlet["accounts"])
            assert {n["data"]["platform"] for n in graph["nodes"]} == {"telegram", "vk"}
            assert all(n["data"]["matches"] >= 3 for n in graph["nodes"]) and graph["edges"]
            assert "newvoice" not in json.dumps(graph).lower()
            assert client.get("/static/vendor/cytoscape.min.js").status_code == 200
            assert client.get("/static/outlets.js").status_code == 200
            assert client.get("/outlets/999").status_code == 404

            client.cookies.clear()
            sign_in(client, "rev")
            as_reviewer = client.get(f"/outlets/{outlet['outlet_id']}")
            assert as_reviewer.status_code == 200 and not any(h in as_reviewer.text for h in HANDLES)

            client.cookies.clear()
            sign_in(client, "mat")
            for path in ("/outlets", f"/outlets/{outlet['outlet_id']}"):
                refused = client.get(path)
                assert refused.status_code == 403 and "analyst" in refused.text, path
    finally:
        app.state.ctx.close()


@pytest.mark.service
@pytest.mark.slow
def test_graph_renders_in_chromium(home, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'playwright' Python package (browser extra)")
    pytest.importorskip("uvicorn", reason="needs uvicorn (server extra)")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium; see deps/apt-review.txt)")
    app = make_app(home)
    try:
        with app_in_thread(app) as base, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                        "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{base}/signin?next=/outlets/1")
            page.fill("#username", "ana")
            page.fill("#password", PASSWORD)
            page.click("form[action='/signin'] button[type=submit]")
            page.wait_for_selector("#outlet-graph canvas")
            page.wait_for_function("document.getElementById('outlet-graph').dataset.nodes === '3'")
            assert page.locator("#graph-legend li").count() == 2
            # The app serves no favicon; chromium asks for one anyway. Anything else (a CSP refusal, a 404) fails.
            assert not [p for p in problems if "/favicon.ico" not in p], problems
            if os.environ.get("CROSSMATCH_UPDATE_SCREENSHOT") == "1":
                DOCS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(DOCS / "outlets.png"), full_page=True)
            # Accessibility: axe-core (shipped by the browser extra) on both pages; its script needs the CSP bypassed.
            axe = pytest.importorskip("axe_playwright_python", reason="needs axe-playwright-python (browser extra)")
            checked = browser.new_context(bypass_csp=True).new_page()
            checked.goto(f"{base}/signin?next=/outlets")
            checked.fill("#username", "ana")
            checked.fill("#password", PASSWORD)
            checked.click("form[action='/signin'] button[type=submit]")
            for path in ("/outlets", "/outlets/1"):
                checked.goto(base + path)
                checked.wait_for_load_state()
                checked.add_script_tag(path=str(Path(axe.__file__).parent / "axe.min.js"))
                passes, violations = checked.evaluate(
                    "async () => { const r = await axe.run(document); return [r.passes.length,"
                    " r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))]; }")
                assert passes > 10 and not violations, (path, violations)
            browser.close()
    finally:
        app.state.ctx.close()
