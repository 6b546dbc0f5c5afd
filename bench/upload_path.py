"""The upload path: JPEG uploads to POST /api/v1/lookup, against plain hashing of the same images.

Used by ``bench/api_load.py --upload``.  The baseline is what any platform
does at minimum for a PDQ list: decode the JPEG and run pdqhash, in as many
processes as the server has hashing processes.  crossmatch's upload path is
measured over HTTP with its default settings (deep pass on, within
``service.deep_budget_s``), so the ratio is what crossmatch costs on top of
bare hashing: HTTP, multipart, the cheap pass (reference PDQ, its dihedral
variants, file hashes), the index lookup against the bank, and queueing the
deep pass.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "imagededup-ukbench-tests" / "base_images"


def upload_images(n: int, seed: int = 3, size: tuple[int, int] = (1024, 768)) -> list[bytes]:
    """~1 MP benign JPEGs: the evaldata photos re-cropped and rescaled, else photo-like noise."""
    rng = np.random.default_rng(seed)
    sources = [Image.open(p).convert("RGB") for p in sorted(PHOTOS.glob("*.jpg"))] if PHOTOS.exists() else []
    out = []
    for i in range(n):
        if sources:
            src = sources[i % len(sources)]
            w, h = src.size
            dx, dy = int(rng.integers(0, w // 8)), int(rng.integers(0, h // 8))
            img = src.crop((dx, dy, w - int(rng.integers(0, w // 8)), h - int(rng.integers(0, h // 8)))).resize(size)
        else:
            small = rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(70, 95)))
        out.append(buf.getvalue())
    return out


def _plain_hash(data: bytes) -> float:
    import pdqhash

    t = time.perf_counter()
    pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return time.perf_counter() - t


def plain_hashing(images: list[bytes], processes: int, rounds: int = 3) -> dict:
    """Images/s hashing with pdqhash in ``processes`` processes, and the median time of one image."""
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_plain_hash, images[: processes * 2]))  # warm up: imports in every process
        start = time.perf_counter()
        times = [t for _ in range(rounds) for t in pool.map(_plain_hash, images, chunksize=4)]
        wall = time.perf_counter() - start
    return {"images_per_s": len(times) / wall, "median_ms": statistics.median(times) * 1000, "images": len(times)}


async def _post(client: httpx.AsyncClient, data: bytes, i: int) -> tuple[int, float, dict]:
    t = time.perf_counter()
    try:
        r = await client.post("/api/v1/lookup", files={"file": (f"u{i}.jpg", data, "image/jpeg")})
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        return r.status_code, time.perf_counter() - t, body
    except httpx.HTTPError:
        return -1, time.perf_counter() - t, {}


def _summary(mode: str, results: list[tuple[int, float, dict]], wall: float, scheduled: list[float] | None = None) -> dict:
    ok = [lat for code, lat, _ in results if code == 200]
    shed = sum(1 for code, _, _ in results if code == 503)
    errors = sum(1 for code, _, _ in results if code not in (200, 503))
    queued = sum(1 for code, _, body in results if code == 200 and (body.get("deep_pass") or {}).get("status") == "queued")
    pct = (lambda q: float(np.percentile(np.array(ok) * 1000, q)) if ok else float("nan"))
    return {"mode": mode, "requests": len(results), "ok": len(ok), "shed_503": shed, "errors": errors,
            "ok_per_s": len(ok) / wall, "p50": pct(50), "p99": pct(99), "deep_queued": queued}


async def closed_loop(base: str, token: str, images: list[bytes], concurrency: int, count: int) -> dict:
    results: list = []
    sent = 0

    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        async def worker() -> None:
            nonlocal sent
            while sent < count:
                i = sent
                sent += 1
                results.append(await _post(client, images[i % len(images)], i))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return _summary(f"closed loop, concurrency {concurrency}", results, wall)


async def open_loop(base: str, token: str, images: list[bytes], rate: float, seconds: float, label: str) -> dict:
    """Requests sent at ``rate`` whatever the answers; latency counts from the scheduled send time."""
    n = max(1, int(rate * seconds))
    results: list = []
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits) as client:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            code, _, body = await _post(client, images[i % len(images)], i)
            results.append((code, time.perf_counter() - scheduled, body))

        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - start
    return _summary(f"open loop, {rate:.0f}/s offered ({label})", results, wall)


def markdown(rows: list[dict], plain: dict) -> str:
    lines = ["| mode | requests | ok | 503 | errors | ok/s | vs plain hashing | p50 ms | p99 ms | p99 / median hash | deep pass queued |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines.append(f"| plain pdqhash, in-process pool | {plain['images']} | {plain['images']} | 0 | 0 | {plain['images_per_s']:.1f} "
                 f"| 1.00x | {plain['median_ms']:.1f} | | | |")
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['requests']} | {r['ok']} | {r['shed_503']} | {r['errors']} | {r['ok_per_s']:.1f} "
            f"| {r['ok_per_s'] / plain['images_per_s']:.2f}x | {r['p50']:.1f} | {r['p99']:.1f} | {r['p99'] / plain['median_ms']:.2f}x "
            f"| {r['deep_queued']} |")
    return "\n".join(lines)
