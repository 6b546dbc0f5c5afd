"""Review console speed with a full queue: time to first byte and full page load of the queue and a case view.

Seeds the demo (synthetic posters), copies one case into N open cases (default 10,000), serves the app on
127.0.0.1 and measures, for the queue and for a case in the middle of the queue:

* TTFB: request sent -> first byte of the response (httpx, signed in), median and p90 over --repeats;
* full load: Debian's chromium (Playwright) navigation -> load event (HTML, CSS, JS, blurred previews).

Baseline, in the same run: the same pages with a small queue (--baseline-cases, default 100), so the
ratio says what a big queue costs.  Goal (issue 14): under 300 ms median for each at 10,000 cases.

    .venv/bin/python bench/review_ui.py                       # prints a Markdown table
    .venv/bin/python bench/review_ui.py --cases 500 --repeats 3   # quick look
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

PASSWORD = "bench-review-password"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def serve(cases: int, home: Path):
    import uvicorn

    from crossmatch.api.app import create_app
    from crossmatch.review.demo import clone_cases, seed_demo
    from crossmatch.settings import Settings

    settings = Settings.load(home=home, workers=1, deep_scan=False, service={"secret_key": "r" * 40, "background_workers": False})
    app = create_app(settings)
    demo = seed_demo(app.state, password=PASSWORD, posters=2, text=False)
    clone_cases(app.state, demo.case_ids[0], max(0, cases - len(demo.case_ids)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    ids = app.state.review.queue_ids("pending", None, "age")
    return app, server, thread, f"http://127.0.0.1:{port}", ids[len(ids) // 2]


def ttfb(client: httpx.Client, url: str, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        with client.stream("GET", url) as response:
            chunks = response.iter_raw()
            next(chunks, None)  # the first body bytes
            out.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, f"{url}: HTTP {response.status_code}"
            for _ in chunks:
                pass
    return out


def full_loads(base: str, urls: list[str], repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {u: [] for u in urls}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{base}/signin")
        page.fill("#username", "reviewer")
        page.fill("#password", PASSWORD)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_load_state()
        for url in urls:
            for _ in range(repeats):
                page.goto(base + url, wait_until="load")
                out[url].append(page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"))
        browser.close()
    return out


def measure(cases: int, repeats: int, browser: bool = True) -> dict[str, tuple[list[float], list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        app, server, thread, base, middle = serve(cases, Path(tmp) / "home")
        try:
            client = httpx.Client(base_url=base, timeout=30)
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
            client.post("/signin", data={"username": "reviewer", "password": PASSWORD, "csrf": token, "next": "/queue"})
            urls = {"queue": "/queue", "case view": f"/cases/{middle}"}
            for url in urls.values():  # warm up (templates compiled, indexes loaded)
                ttfb(client, url, 2)
            first = {name: ttfb(client, url, repeats) for name, url in urls.items()}
            loads = full_loads(base, list(urls.values()), repeats) if browser else {u: [float("nan")] for u in urls.values()}
            return {name: (first[name], loads[url]) for name, url in urls.items()}
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            app.state.ctx.close()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--baseline-cases", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-browser", action="store_true", help="time to first byte only (no chromium)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for the test suite: 60 vs 10 cases, 2 repeats")
    args = parser.parse_args()
    if args.smoke:
        args.cases, args.baseline_cases, args.repeats = 60, 10, 2
    big = measure(args.cases, args.repeats, browser=not args.no_browser)
    small = measure(args.baseline_cases, args.repeats, browser=not args.no_browser)
    print(f"| page | measure | {args.cases:,} open cases: median (p90) ms | baseline {args.baseline_cases} cases: median ms | ratio |")
    print("|---|---|---|---|---|")
    for name in big:
        for i, label in enumerate(("time to first byte", "full load (chromium)")):
            ours, base = big[name][i], small[name][i]
            print(f"| {name} | {label} | {statistics.median(ours):.0f} ({pct(ours, 0.9):.0f}) | {statistics.median(base):.0f} | "
                  f"{statistics.median(ours) / max(statistics.median(base), 1e-9):.2f} |")


if __name__ == "__main__":
    main()
