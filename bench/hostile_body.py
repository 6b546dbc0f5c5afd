"""Peak server memory under a huge unauthenticated request body (issue 15 finding 4).

Starts a real server (``crossmatch serve``), then streams a JSON array body with no token to
``POST /api/v1/banks`` (a route whose JSON FastAPI parses before authentication), chunked and
with a declared length, and reads the server's peak RSS (``VmHWM``).  The baseline is the same
server with the body cap raised out of the way (``CROSSMATCH_LIMITS__MAX_BODY_BYTES``), sent a
smaller body: without the cap, parsing costs tens of bytes of memory per body byte, so the full
size would take the shared machine down.

    .venv/bin/python bench/hostile_body.py --mb 400 --baseline-mb 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import free_port, running_server  # noqa: E402

CHUNK = 1024 * 1024


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def body(megabytes: int):
    yield b"["
    piece = b"0," * (CHUNK // 2)
    for _ in range(megabytes):
        yield piece
    yield b"0]"


def send(port: int, megabytes: int, chunked: bool) -> tuple[int | str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if not chunked:
        headers["Content-Length"] = str(megabytes * CHUNK + 3)
    start = time.perf_counter()
    try:
        conn.request("POST", "/api/v1/banks", body=body(megabytes), headers=headers, encode_chunked=chunked)
        status: int | str = conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError) as exc:
        try:  # the server answered and closed while we were still sending
            status = conn.getresponse().status
        except Exception:  # noqa: BLE001
            status = type(exc).__name__
    finally:
        conn.close()
    return status, time.perf_counter() - start


def measure(label: str, megabytes: int, env: dict[str, str]) -> list[dict]:
    rows = []
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        with running_server(Path(home), None, port, 1, env_extra=env) as server:
            idle = peak_rss_mb(server.pid)
            for chunked in (True, False):
                status, seconds = send(port, megabytes, chunked)
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code
                rows.append({"server": label, "body_mb": megabytes, "chunked": chunked, "status": status,
                             "seconds": round(seconds, 2), "idle_rss_mb": round(idle),
                             "peak_rss_mb": round(peak_rss_mb(server.pid)), "healthz_after": healthy})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400, help="body size with the cap on (MiB)")
    parser.add_argument("--baseline-mb", type=int, default=20, help="body size with the cap off (MiB); keep it small")
    args = parser.parse_args(argv)
    rows = measure("cap off (baseline)", args.baseline_mb, {"CROSSMATCH_LIMITS__MAX_BODY_BYTES": str(4 * 1024**3)})
    rows += measure("cap on (default)", args.mb, {})
    print(f"{'server':20} {'body':>6} {'chunked':>8} {'status':>7} {'s':>7} {'idle RSS':>9} {'peak RSS':>9} {'healthz':>8}")
    for r in rows:
        print(f"{r['server']:20} {r['body_mb']:>5}M {str(r['chunked']):>8} {str(r['status']):>7} {r['seconds']:>7} "
              f"{r['idle_rss_mb']:>8}M {r['peak_rss_mb']:>8}M {r['healthz_after']:>8}")
    base = [r for r in rows if r["server"].startswith("cap off")]
    capped = [r for r in rows if r["server"].startswith("cap on")]
    grow_base = max(r["peak_rss_mb"] - r["idle_rss_mb"] for r in base) / args.baseline_mb
    grow_cap = max(r["peak_rss_mb"] - r["idle_rss_mb"] for r in capped) / args.mb
    print(f"RSS growth per body MiB: baseline {grow_base:.2f}, capped {grow_cap:.3f} (ratio {grow_base / max(grow_cap, 1e-3):.0f}x)")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
