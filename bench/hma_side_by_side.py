"""HMA 2.0 beside crossmatch on the same hash list, in one run, through the same HMA routes.

Both systems get the same N random PDQ hashes (default 1M): HMA as a python-threatexchange
``local_file`` list (``pdq <hash>`` lines) fetched by its exchange fetcher, crossmatch as a
hash-list CSV (``signal_type,signal``) through ``crossmatch bank import`` (or, with
``--crossmatch-load exchange``, HMA's very file through ``crossmatch exchange sync`` of a
python-threatexchange ``local_file`` exchange).  Then, on the loaded
systems, through the HMA routes an HMA client calls (one client, only the base URL and the
crossmatch token differ):

1. bulk load to matchable: list in -> its last hash found by ``GET /m/raw_lookup`` on the server;
2. freshness: ``POST /c/bank/<bank>/signal`` of one new hash -> found by ``GET /m/lookup``;
3. lookup latency: ``GET /m/lookup?signal_type=pdq`` p50 / p99 / req/s at concurrency 1 and 8
   (half near copies of list hashes, 0-24 bits flipped, which must match; half random);
4. recall on edited photos: the evaldata photos added through ``POST /c/bank/<bank>/content``
   (each system hashes its own bank side), their seeded edits (crops, flips, stickers,
   captions, re-encodes... eval/image_edit_families.py, plus a plain mirror) looked up by file
   (``POST /m/lookup``) and by signal (``GET /m/lookup`` with the PDQ the client computes with
   python-threatexchange, which is what HMA hashes with).

HMA runs as its reference deployment splits it: a gunicorn server (hasher, matcher, curator
roles; its index cache refreshes on HMA's default 30 s) and, for freshness, a gunicorn
"cron" instance holding only the indexer on HMA's default 60 s interval.  The bulk load runs
HMA's own CLI tasks back to back (``flask fetch`` then ``flask build_indices``), so no
scheduler interval is counted against it there.  Each system keeps its defaults otherwise
(one server process each; ``--workers`` sets both).

HMA is not part of crossmatch: give an HMA 2.0 install (per HMA's own README, with its
``prod`` extra for gunicorn) with ``--hma-python`` (its venv's python) and ``--hma-src`` (the
folder holding the ``OpenMediaMatch`` package, HMA's ``src``), and an empty PostgreSQL
database for it with ``--hma-database-url`` (the bench drops and recreates its ``public``
schema).  Without them only the crossmatch side runs, and the output says so.

    .venv/bin/python bench/hma_side_by_side.py --rows 1000000 \\
        --hma-python /path/to/hma-venv/bin/python --hma-src /path/to/hasher-matcher-actioner/src \\
        --hma-database-url postgresql+psycopg2://postgres@127.0.0.1/hma_bench \\
        --postgres postgresql+psycopg://postgres@127.0.0.1/cm_bench
    .venv/bin/python bench/hma_side_by_side.py --smoke        # crossmatch side only, small
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from crossmatch.api.healthcheck import free_port, wait_until_healthy  # noqa: E402

CROSSMATCH = str(Path(sys.executable).with_name("crossmatch"))
LIST_BANK, PHOTO_BANK = "BENCH_LIST", "BENCH_PHOTOS"  # HMA bank names: UPPER_WITH_UNDERSCORE
# ../shared/evaldata from the main checkout, ../../shared/evaldata from a worktree under wt/.
EVALDATA = next((p for p in (ROOT.parent / "shared" / "evaldata", ROOT.parent.parent / "shared" / "evaldata") if p.exists()),
                ROOT.parent / "shared" / "evaldata")


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load()}] {msg}", file=sys.stderr, flush=True)


# -- the list -------------------------------------------------------------------------------------
def make_lists(tmp: Path, rows: int, seed: int) -> tuple[np.ndarray, Path, Path]:
    """The same hashes, in order, as crossmatch's hash-list CSV and pytx's ``local_file`` lines."""
    hashes = np.random.default_rng(seed).integers(0, 256, size=(rows, 32), dtype=np.uint8)
    csv_path, txt_path = tmp / "list.csv", tmp / "list.txt"
    with csv_path.open("w") as csv_out, txt_path.open("w") as txt_out:
        csv_out.write("signal_type,signal\n")
        for start in range(0, rows, 100_000):
            hexes = [row.tobytes().hex() for row in hashes[start : start + 100_000]]
            csv_out.write("".join(f"pdq,{h}\n" for h in hexes))
            txt_out.write("".join(f"pdq {h}\n" for h in hexes))
    return hashes, csv_path, txt_path


def near_copy(value: np.ndarray, rng: np.random.Generator, max_bits: int = 24) -> str:
    bits = np.unpackbits(value.copy())
    bits[rng.choice(256, size=int(rng.integers(0, max_bits + 1)), replace=False)] ^= 1
    return np.packbits(bits).tobytes().hex()


# -- the two systems ------------------------------------------------------------------------------
@dataclass
class System:
    name: str
    base: str
    headers: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=timeout)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def cm_env(args) -> dict:
    env = {**os.environ, "CROSSMATCH_SERVICE__RATE_PER_SECOND": "0", "CROSSMATCH_EXCHANGE__SCHEDULER_ENABLED": "false"}
    if getattr(args, "crossmatch_deep_budget", None) is not None:  # regions / local features inside the request
        env["CROSSMATCH_EXCHANGE__HMA_DEEP_BUDGET_S"] = str(args.crossmatch_deep_budget)
    return env


def cm_cli(home: Path, db: str | None, env: dict, *cmd: str) -> str:
    full = [CROSSMATCH, "--home", str(home)] + (["--database-url", db] if db else []) + list(cmd)
    out = subprocess.run(full, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {out.stderr[-2000:]}")
    return out.stdout


def fresh_schema(pg: str, name: str) -> str:
    """A fresh schema in crossmatch's PostgreSQL database for this run: bench/bulk_load.py's own."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bulk_load import fresh_db

    return fresh_db(pg, name)  # type: ignore[return-value]


def start_crossmatch(args, tmp: Path) -> tuple[System, Path, str | None, dict]:
    home = tmp / "cm-home"
    db = fresh_schema(args.postgres, "bench_hma_side") if args.postgres else None
    env = cm_env(args)
    token = json.loads(cm_cli(home, db, env, "token", "create", "--role", "curator", "--name", "hma-client", "--json")
                       .strip().splitlines()[-1])["token"]
    port = free_port()
    cmd = [CROSSMATCH, "--home", str(home)] + (["--database-url", db] if db else []) + [
        "serve", "--port", str(port), "--workers", str(args.workers), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until_healthy(proc, port, 180, "crossmatch serve")
    system = System("crossmatch", f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}, [proc])
    return system, home, db, env


HMA_CONFIG = """# Written by bench/hma_side_by_side.py for one run; mirrors HMA's reference configs.
from logging.config import dictConfig

from OpenMediaMatch.storage.postgres.impl import DefaultOMMStore
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.content_type.photo import PhotoContent
from threatexchange.content_type.video import VideoContent
from threatexchange.exchanges.impl.file_api import LocalFileSignalExchangeAPI

DATABASE_URI = {db!r}
PRODUCTION = True
UI_ENABLED = False
ROLE_HASHER = ROLE_MATCHER = ROLE_CURATOR = {server}
TASK_INDEX_CACHE = {server}
TASK_FETCHER = False
TASK_INDEXER = {cron}
TASK_INDEXER_INTERVAL_SECONDS = {indexer_s}
STORAGE_IFACE_INSTANCE = DefaultOMMStore(
    signal_types=[PdqSignal, VideoMD5Signal],
    content_types=[PhotoContent, VideoContent],
    exchange_types=[LocalFileSignalExchangeAPI],
)
dictConfig({{"version": 1, "formatters": {{"default": {{"format": "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"}}}},
            "handlers": {{"wsgi": {{"class": "logging.StreamHandler", "formatter": "default"}}}},
            "root": {{"level": "INFO", "handlers": ["wsgi"]}}}})
"""


class Hma:
    """An installed HMA 2.0, started the way its Dockerfile starts it (gunicorn), from its src folder."""

    def __init__(self, args, tmp: Path) -> None:
        self.python, self.src, self.db, self.tmp = args.hma_python, Path(args.hma_src), args.hma_database_url, tmp
        self.workers, self.indexer_s = args.workers, args.hma_indexer_interval
        self.server_cfg, self.cron_cfg = tmp / "omm_server.py", tmp / "omm_cron.py"
        self.server_cfg.write_text(HMA_CONFIG.format(db=self.db, server=True, cron=False, indexer_s=self.indexer_s))
        self.cron_cfg.write_text(HMA_CONFIG.format(db=self.db, server=False, cron=True, indexer_s=self.indexer_s))

    def env(self, cfg: Path, **extra: str) -> dict:
        return {**os.environ, "OMM_CONFIG": str(cfg), **extra}

    def reset_database(self) -> None:
        from sqlalchemy import create_engine, text

        url = self.db.replace("+psycopg2", "+psycopg")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        # HMA's own migration command (its scripts/db-migrate.sh).
        self.flask("db", "upgrade", "--directory", "OpenMediaMatch/migrations", MIGRATION_COMMAND="1")

    def flask(self, *cmd: str, **extra: str) -> float:
        logf = self.tmp / f"hma-flask-{cmd[0]}.log"
        start = time.perf_counter()
        with logf.open("ab") as out:
            code = subprocess.run([self.python, "-m", "flask", "--app", "OpenMediaMatch.app", *cmd], cwd=self.src,
                                  env=self.env(self.server_cfg, **extra), stdout=out, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"HMA flask {' '.join(cmd)} failed: {logf.read_text()[-3000:]}")
        return time.perf_counter() - start

    def gunicorn(self, cfg: Path, port: int, log_name: str) -> subprocess.Popen:
        logf = (self.tmp / log_name).open("wb")
        proc = subprocess.Popen([self.python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(self.workers),
                                 "OpenMediaMatch.app:create_app()"], cwd=self.src, env=self.env(cfg),
                                stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"HMA gunicorn exited: {(self.tmp / log_name).read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/status/live", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        proc.kill()
        raise RuntimeError("HMA did not start within 180 s")

    def start_server(self) -> System:
        port = free_port()
        return System("HMA 2.0", f"http://127.0.0.1:{port}", {}, [self.gunicorn(self.server_cfg, port, "hma-server.log")])

    def start_cron(self, system: System) -> None:
        system.procs.append(self.gunicorn(self.cron_cfg, free_port(), "hma-cron.log"))


# -- measurements ---------------------------------------------------------------------------------
def matches_raw(resp: httpx.Response) -> list:
    resp.raise_for_status()
    return resp.json().get("matches", [])


def wait_found(system: System, signal: str, started: float, timeout: float, every: float) -> float | None:
    """Seconds from ``started`` until ``/m/raw_lookup`` finds ``signal``; None after ``timeout``."""
    with system.client() as http:
        while time.perf_counter() - started < timeout:
            resp = http.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": signal})
            if resp.status_code == 200 and resp.json().get("matches"):
                return time.perf_counter() - started
            time.sleep(every)
    return None


def bulk_hma(hma: Hma, system: System, txt: Path, last: str, timeout: float) -> dict:
    with system.client() as http:
        resp = http.post("/c/exchanges", json={"bank": LIST_BANK, "api": "local_file",
                                                "api_json": {"filename": str(txt)}})
        assert resp.status_code == 201, resp.text
    start = time.perf_counter()
    fetch = hma.flask("fetch")
    build = hma.flask("build_indices")
    found = wait_found(system, last, start, timeout, 0.5)
    return {"fetch / import s": fetch, "index build s": build, "to matchable s": found}


def bulk_crossmatch(system: System, home: Path, db: str | None, env: dict, csv_path: Path, txt_path: Path, how: str,
                    last: str, timeout: float) -> dict:
    """``bank import`` of the CSV, or (``how="exchange"``) a sync of HMA's very ``local_file`` list
    through crossmatch's python-threatexchange exchange."""
    cm_cli(home, db, env, "bank", "create", LIST_BANK)
    if how == "exchange":
        cm_cli(home, db, env, "exchange", "add", "bench-list", "--kind", "pytx", "--bank", LIST_BANK, "-c", "api=local_file",
               "-c", f"collab.filename={txt_path}", "--interval", "0")
    start = time.perf_counter()
    if how == "exchange":
        cm_cli(home, db, env, "exchange", "sync", "bench-list")
    else:
        cm_cli(home, db, env, "bank", "import", LIST_BANK, str(csv_path))
    imported = time.perf_counter() - start
    found = wait_found(system, last, start, timeout, 0.05)
    return {"fetch / import s": imported, "index build s": None, "to matchable s": found}


def freshness(system: System, trials: int, timeout: float, every: float, rng: np.random.Generator) -> list[float | None]:
    """One new hash per trial, added through HMA's signal route, timed until a lookup finds it."""
    out = []
    with system.client() as http:
        for _ in range(trials):
            value = rng.integers(0, 256, size=32, dtype=np.uint8).tobytes().hex()
            start = time.perf_counter()
            resp = http.post(f"/c/bank/{PHOTO_BANK}/signal", json={"pdq": value})
            assert resp.status_code == 200, resp.text
            found = None
            while time.perf_counter() - start < timeout:
                got = http.get("/m/lookup", params={"signal_type": "pdq", "signal": value})
                if got.status_code == 200 and got.json().get(PHOTO_BANK):
                    found = time.perf_counter() - start
                    break
                time.sleep(every)
            out.append(found)
    return out


def lookup_load(system: System, queries: list[tuple[str, bool]], concurrency: int, max_requests: int, max_s: float) -> dict:
    """Closed loop: ``concurrency`` clients, each sending the next query as soon as its last one answered."""
    lock = threading.Lock()
    state = {"next": 0}
    lat: list[float] = []
    errors, missed = [0], [0]
    stop_at = time.perf_counter() + max_s

    def worker() -> None:
        with system.client(timeout=60) as http:
            while True:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= max_requests or time.perf_counter() > stop_at:
                    return
                signal, should_match = queries[i % len(queries)]
                t0 = time.perf_counter()
                try:
                    resp = http.get("/m/lookup", params={"signal_type": "pdq", "signal": signal})
                    ok = resp.status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - t0
                with lock:
                    if not ok:
                        errors[0] += 1
                        continue
                    lat.append(took)
                    if should_match and not resp.json().get(LIST_BANK):
                        missed[0] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    wall = time.perf_counter() - start
    ms = np.array(lat) * 1000.0
    return {"n": len(lat), "errors": errors[0], "missed": missed[0],
            "p50": float(np.percentile(ms, 50)) if len(ms) else None,
            "p99": float(np.percentile(ms, 99)) if len(ms) else None,
            "rps": len(lat) / wall if wall else None}


# -- recall -----------------------------------------------------------------------------------------
def mirror(img, rng, backdrop):
    from PIL import Image

    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def edit_families(smoke: bool) -> dict[str, Callable]:
    from image_edit_families import FAMILIES

    families = {"mirror": mirror, **FAMILIES}
    if smoke:
        families = {k: families[k] for k in ("mirror", "crop_centre", "sticker", "jpeg_20")}
    return families


PASTES_ONTO_BACKDROP = {"picture_in_picture", "combination_of_two"}  # combination may include the paste


def recall_set(data: Path, smoke: bool, max_photos: int | None) -> tuple[list, list]:
    """(originals as (name, jpeg)), (queries as (original name, family, jpeg, backdrop name)), seeded.

    Picture-in-picture pastes the photo onto another photo of the set (the backdrop), so a match to
    the backdrop's item is right too, and is not counted as a wrong match."""
    from images_edits import photos, to_jpeg

    found = photos(data, smoke)
    if max_photos:
        found = found[:max_photos]
    families = edit_families(smoke)
    originals = [(p.name, to_jpeg(p.image)) for p in found]
    queries = []
    for p in found:
        for family, edit in families.items():
            rng = random.Random(f"{p.name}/{family}")
            backdrop = found[rng.randrange(len(found))]
            pasted = backdrop.name if family in PASTES_ONTO_BACKDROP else None
            queries.append((p.name, family, to_jpeg(edit(p.image, rng, backdrop.image)), pasted))
    return originals, queries


def pdq_of(jpeg: bytes) -> str:
    """The client's PDQ, made with python-threatexchange as HMA makes it."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return PdqSignal.hash_from_bytes(jpeg)


def add_originals(system: System, originals: list) -> dict[str, int]:
    ids = {}
    with system.client() as http:
        resp = http.post("/c/banks", json={"name": PHOTO_BANK})
        assert resp.status_code in (200, 201), resp.text
        for name, jpeg in originals:
            resp = http.post(f"/c/bank/{PHOTO_BANK}/content", files={"photo": (Path(name).name, jpeg, "image/jpeg")})
            assert resp.status_code == 200, f"{system.name} content add of {name}: {resp.status_code} {resp.text[:300]}"
            ids[name] = int(resp.json()["id"])
    return ids


def ids_in(by_bank: dict) -> set[int]:
    return {int(m["bank_content_id"]) for matches in by_bank.values() for m in matches}


def recall(system: System, ids: dict[str, int], queries: list) -> dict:
    """Per family: (found by file, found by signal, queries); plus matches to a wrong item."""
    out: dict[str, list[int]] = {}
    wrong = [0, 0]
    with system.client() as http:
        for original, family, jpeg, backdrop in queries:
            own = ids[original]
            right = {own} | ({ids[backdrop]} if backdrop else set())
            resp = http.post("/m/lookup", files={"photo": ("q.jpg", jpeg, "image/jpeg")})
            resp.raise_for_status()
            by_file: set[int] = set()
            for by_bank in resp.json().values():
                by_file |= ids_in({k: v for k, v in by_bank.items() if k == PHOTO_BANK})
            resp = http.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq_of(jpeg)})
            resp.raise_for_status()
            by_signal = ids_in({k: v for k, v in resp.json().items() if k == PHOTO_BANK})
            row = out.setdefault(family, [0, 0, 0, 0, 0])  # found by file, by signal, queries, wrong by file, by signal
            row[0] += own in by_file
            row[1] += own in by_signal
            row[2] += 1
            row[3] += bool(by_file - right)
            row[4] += bool(by_signal - right)
            wrong[0] += bool(by_file - right)
            wrong[1] += bool(by_signal - right)
    return {"families": out, "wrong": wrong}


# -- report ---------------------------------------------------------------------------------------
def fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"


def ratio(cm, hma, lower_is_better: bool) -> str:
    if cm is None or hma is None or not isinstance(cm, (int, float)) or not isinstance(hma, (int, float)):
        return "—"
    if cm == 0 or hma == 0:
        return f"{cm:g} vs {hma:g}"
    r = cm / hma
    ahead = (r < 1) if lower_is_better else (r > 1)
    word = "ahead" if ahead else ("even" if r == 1 else "BEHIND")
    return f"{r:.3g}x ({word})"


def median(values: list) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got and len(got) == len(values) else None


def table(res: dict, hma_ran: bool) -> list[str]:
    cm, hm = res["crossmatch"], res.get("hma", {})
    rows: list[tuple[str, object, object, bool | None]] = []  # (figure, crossmatch, hma, lower is better)
    for key in ("fetch / import s", "index build s", "to matchable s"):
        rows.append((f"bulk load {res['rows']:,} rows: {key}", cm["bulk"].get(key), hm.get("bulk", {}).get(key), True))
    rows.append(("bulk load rows/s to matchable", _rate(res["rows"], cm["bulk"].get("to matchable s")),
                 _rate(res["rows"], hm.get("bulk", {}).get("to matchable s")), False))
    rows.append((f"freshness s (median of {len(cm['fresh'])}; HMA {len(hm.get('fresh', []))})", median(cm["fresh"]),
                 median(hm["fresh"]) if hm.get("fresh") else None, True))
    rows.append(("freshness s (max)", _max(cm["fresh"]), _max(hm.get("fresh")), True))
    for c in res["concurrency"]:
        a, b = cm["lookup"][c], hm.get("lookup", {}).get(c, {})
        rows.append((f"GET /m/lookup c={c} p50 ms", a["p50"], b.get("p50"), True))
        rows.append((f"GET /m/lookup c={c} p99 ms", a["p99"], b.get("p99"), True))
        rows.append((f"GET /m/lookup c={c} req/s", a["rps"], b.get("rps"), False))
    n = sum(r[2] for r in cm["recall"]["families"].values())
    for i, route in enumerate(("by file (POST /m/lookup)", "by signal (GET /m/lookup)")):
        a = sum(r[i] for r in cm["recall"]["families"].values())
        b = sum(r[i] for r in hm["recall"]["families"].values()) if hm.get("recall") else None
        rows.append((f"recall {route}, of {n}", a, b, False))
        rows.append((f"queries matching a wrong item, {route}", cm["recall"]["wrong"][i],
                     hm["recall"]["wrong"][i] if hm.get("recall") else None, True))
    out = ["| figure | crossmatch | HMA 2.0 | crossmatch / HMA |", "|---|---|---|---|"]
    for name, a, b, lower in rows:
        out.append(f"| {name} | {fmt(a)} | {fmt(b) if hma_ran else 'not run'} | {ratio(a, b, lower) if hma_ran else '—'} |")
    out += ["", "| edit family | crossmatch by file | HMA by file | crossmatch by signal | HMA by signal | wrong item, crossmatch / HMA (file, signal) |",
            "|---|---|---|---|---|---|"]
    for family, (f, s, total, wf, ws) in cm["recall"]["families"].items():
        h = hm["recall"]["families"].get(family) if hm.get("recall") else None
        out.append(f"| {family} | {f}/{total} | {f'{h[0]}/{h[2]}' if h else '—'} | {s}/{total} | {f'{h[1]}/{h[2]}' if h else '—'} "
                   f"| {wf}, {ws} / {f'{h[3]}, {h[4]}' if h else '—'} |")
    return out


def _rate(rows: int, seconds) -> float | None:
    return rows / seconds if seconds else None


def _max(values) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return max(values)


# -- run ------------------------------------------------------------------------------------------
def run_side(system: System, bulk: Callable[[], dict], hashes: np.ndarray, originals: list, queries: list, args,
             before_recall: Callable[[], None], every: float) -> dict:
    out: dict = {}
    log(f"{system.name}: bulk load of {len(hashes):,} rows")
    out["bulk"] = bulk()
    log(f"{system.name}: bulk {out['bulk']}")
    log(f"{system.name}: adding {len(originals)} originals through /c/bank/{PHOTO_BANK}/content")
    ids = add_originals(system, originals)
    before_recall()  # HMA: start its indexer; wait until the originals are matchable
    wait = wait_found(system, pdq_of(originals[-1][1]), time.perf_counter(), args.fresh_timeout * 2, every)
    if wait is None:
        raise RuntimeError(f"{system.name}: the photo bank never became matchable")
    rng = np.random.default_rng(args.seed + 1)
    log(f"{system.name}: freshness, {args.fresh_trials if system.name == 'crossmatch' else args.hma_fresh_trials} trials")
    out["fresh"] = freshness(system, args.fresh_trials if system.name == "crossmatch" else args.hma_fresh_trials,
                             args.fresh_timeout, every, rng)
    log(f"{system.name}: freshness {out['fresh']}")
    qrng = np.random.default_rng(args.seed + 2)
    lookups = [(near_copy(hashes[int(qrng.integers(0, len(hashes)))], qrng), True) if i % 2 == 0 else
               (qrng.integers(0, 256, size=32, dtype=np.uint8).tobytes().hex(), False) for i in range(args.requests)]
    out["lookup"] = {}
    for c in args.concurrency:
        lookup_load(system, lookups[: max(8, args.requests // 20)], c, max(8, args.requests // 20), 30)  # warm-up
        out["lookup"][c] = lookup_load(system, lookups, c, args.requests, args.max_lookup_s)
        log(f"{system.name}: lookups c={c} {out['lookup'][c]}")
    log(f"{system.name}: recall, {len(queries)} edited photos x 2 routes")
    out["recall"] = recall(system, ids, queries)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--postgres", default=None, help="crossmatch's PostgreSQL URL (a fresh schema is made); default SQLite")
    ap.add_argument("--hma-python", help="python of an HMA 2.0 install (its venv)")
    ap.add_argument("--hma-src", help="HMA's src folder (holds OpenMediaMatch)")
    ap.add_argument("--hma-database-url", help="an empty PostgreSQL database for HMA (postgresql+psycopg2://...); wiped")
    ap.add_argument("--hma-indexer-interval", type=int, default=60, help="HMA indexer interval, s (HMA's default 60)")
    ap.add_argument("--crossmatch-deep-budget", type=float, default=None,
                    help="crossmatch's exchange.hma_deep_budget_s, the deep-pass budget of HMA's /m/lookup "
                         "(default: its setting, 0.3 s; 0 = cheap pass only)")
    ap.add_argument("--crossmatch-load", choices=("import", "exchange"), default="import",
                    help="crossmatch's bulk load: `bank import` of the CSV, or `exchange sync` of HMA's local_file list")
    ap.add_argument("--workers", type=int, default=1, help="server processes, both systems")
    ap.add_argument("--requests", type=int, default=2000, help="lookups per concurrency level")
    ap.add_argument("--max-lookup-s", type=float, default=60.0, help="time cap per concurrency level")
    ap.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    ap.add_argument("--fresh-trials", type=int, default=5)
    ap.add_argument("--hma-fresh-trials", type=int, default=3)
    ap.add_argument("--fresh-timeout", type=float, default=600.0)
    ap.add_argument("--photos", type=int, default=None, help="use only the first N evaldata photos")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--data", type=Path, default=EVALDATA, help="the evaldata folder (photos for the recall part)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help="small: 2,000 rows, 3 photos, 4 edits, 100 lookups")
    args = ap.parse_args(argv)
    # A SIGTERM (a killed job, a time-out) still stops the servers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.rows, args.requests, args.fresh_trials, args.photos = 2000, 100, 3, args.photos or 3
    hma_args = (args.hma_python, args.hma_src, args.hma_database_url)
    if any(hma_args) and not all(hma_args):
        ap.error("HMA needs all of --hma-python, --hma-src and --hma-database-url")
    hma_given = all(hma_args)

    print(f"load average at start: {load()} (1/5/15 min), {os.cpu_count()} cores")
    if not hma_given:
        print("HMA not given (--hma-python, --hma-src, --hma-database-url): crossmatch side only, no ratios.")
    res: dict = {"rows": args.rows, "concurrency": args.concurrency}
    with tempfile.TemporaryDirectory(prefix="hma-side-") as tmp_name:
        tmp = Path(tmp_name)
        hashes, csv_path, txt_path = make_lists(tmp, args.rows, args.seed)
        last = hashes[-1].tobytes().hex()
        originals, queries = recall_set(args.data, args.smoke, args.photos)
        log(f"list of {args.rows:,} rows; {len(originals)} photos, {len(queries)} edited queries")

        if hma_given:
            hma = Hma(args, tmp)
            hma.reset_database()
            system = hma.start_server()
            try:
                res["hma"] = run_side(system, lambda: bulk_hma(hma, system, txt_path, last, args.fresh_timeout), hashes,
                                      originals, queries, args, lambda: hma.start_cron(system), 0.5)
            finally:
                system.stop()
            res["load_after_hma"] = load()

        system, home, db, env = start_crossmatch(args, tmp)
        try:
            res["crossmatch"] = run_side(system, lambda: bulk_crossmatch(system, home, db, env, csv_path, txt_path, args.crossmatch_load,
                                                                          last, args.fresh_timeout),
                                         hashes, originals, queries, args, lambda: None, 0.05)
        finally:
            system.stop()
    res["load_at_end"] = load()
    print()
    for line in table(res, hma_given):
        print(line)
    print()
    print(f"store: crossmatch on {'PostgreSQL' if args.postgres else 'SQLite'}"
          + (", HMA on PostgreSQL" if hma_given else "") + f"; load average after HMA {res.get('load_after_hma', '—')}, at end {res['load_at_end']}")
    for system in ("hma", "crossmatch"):
        for c, fig in res.get(system, {}).get("lookup", {}).items():
            if fig["errors"] or fig["missed"]:
                print(f"{system} c={c}: {fig['errors']} errors, {fig['missed']} near copies not matched")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    return res


if __name__ == "__main__":
    main()
