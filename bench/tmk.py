"""TMK+PDQF cost beside vPDQ: hashing the same videos, and two-level lookup against brute force.

Rows, all in the same run:
  hashing   crossmatch's vPDQ (the default ``hash_video``: every frame, 128x128, bars trimmed) and
            crossmatch's TMK+PDQF (reference tmkpy + ffmpeg at 15 fps), interleaved per video, in
            the same limited child process; the figure is TMK seconds per vPDQ second (ratio).
  lookup    one query's two-level match against a bank of N TMK hashes (the sample videos plus
            synthetic hashes): crossmatch's index (FAISS level 1, then the numpy level 2 on the
            candidates' stored values) vs the brute-force index (level 1 from every bank hash's
            stored string, as upstream's tmk-query reads each file) and a loop over already-parsed
            hashes (level 1 for each, level 2 where it passes: the naive in-memory way).

    .venv/bin/python bench/tmk.py [--data ../shared/evaldata] [--bank 1000] [--queries 20] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.media.video import hash_video  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals import tmk_features as tf  # noqa: E402
from crossmatch.signals.base import Content, Signal  # noqa: E402
from crossmatch.signals.tmk import _synthetic_tmk, create  # noqa: E402

TE = "threatexchange-pdq-vpdq-tmk"


def bench_hashing(tmk, settings: Settings, videos: list[Path]) -> tuple[list[dict], dict[str, Signal]]:
    rows, signals = [], {}
    for path in videos:
        start = time.perf_counter()
        video = hash_video(path, path.name, settings.video)
        vpdq_s = time.perf_counter() - start
        start = time.perf_counter()
        signal = tmk.hash(Content(path.stem, "video", path=path))[0]
        tmk_s = time.perf_counter() - start
        signals[path.stem] = signal
        rows.append({"video": path.name, "seconds": round(video.duration_s, 1), "vpdq_s": round(vpdq_s, 3),
                     "tmk_s": round(tmk_s, 3)})
    return rows, signals


def bench_lookup(tmk, real: dict[str, Signal], bank_size: int, queries: int) -> dict:
    bank = list(real.values()) + [Signal(tmk.name, tf.encode_value(_synthetic_tmk(10_000 + i)))
                                  for i in range(max(0, bank_size - len(real)))]
    table = {i: ("item", s) for i, s in enumerate(bank, 1)}
    entries = [(i, s) for i, (_, s) in table.items()]
    fast, brute = tmk.fast_index(), tmk.brute_force_index()
    start = time.perf_counter()
    fast.add(entries)
    fast_build = time.perf_counter() - start
    brute.add(entries)
    probes = list(real.values())[:max(1, min(queries, len(real)))]
    parsed = [tf.features_of(s.value) for s in bank]
    scorer = tmk.scorer()

    def lookup(ids):  # what the store's describe_signals hands match(): the bank signals, values included
        return {i: table[i] for i in ids}

    def matched(index, probe):
        return {c.signal_ids[0] for c in tmk.match([probe], index, tmk.default_threshold, lookup)}

    def loop(probe):  # the naive in-memory way over already-parsed hashes
        q = tf.features_of(probe.value)
        return {i for i, b in enumerate(parsed, 1)
                if tf.level1(q, b) >= tmk.level1_threshold and scorer.scores(q, b.cos[None], b.sin[None])[0] >= tmk.default_threshold}

    methods = {"fast": lambda p: matched(fast, p), "brute": lambda p: matched(brute, p), "loop": loop}
    for run in methods.values():  # warm-up: thread pools, the level-2 tables
        run(probes[0])
    timings: dict[str, list[float]] = {k: [] for k in methods}
    for probe in probes:  # interleaved, so load drifts over all alike
        answers = {}
        for name, run in methods.items():
            start = time.perf_counter()
            answers[name] = run(probe)
            timings[name].append(time.perf_counter() - start)
        assert answers["fast"] == answers["brute"] == answers["loop"], "the three ways disagree"
    med = {k: sorted(v)[len(v) // 2] for k, v in timings.items()}
    return {"bank": len(bank), "queries": len(probes), "build_s": round(fast_build, 3),
            "fast_ms": round(1000 * med["fast"], 2), "brute_ms": round(1000 * med["brute"], 2),
            "loop_ms": round(1000 * med["loop"], 2), "speedup": round(med["brute"] / med["fast"], 1),
            "speedup_loop": round(med["loop"] / med["fast"], 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    parser.add_argument("--bank", type=int, default=1000, help="TMK hashes in the lookup bank (1 KB each in the index; 350 KB as stored text)")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="two short videos, a bank of 50")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    videos = sorted((args.data / TE / "sample-videos").glob("*.mp4"))
    if args.smoke:
        videos = [v for v in videos if v.stem in ("doorknob-hd-no-bar", "pattern-sd-grey-bar")]
        args.bank = min(args.bank, 50)
    settings = Settings()
    tmk = create(settings)
    load = os.getloadavg()[0]
    rows, signals = bench_hashing(tmk, settings, videos)
    print(f"# TMK+PDQF vs vPDQ (load average {load:.1f} at start)\n")
    print("| video | video s | vPDQ s | TMK s | TMK / vPDQ |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['video']} | {r['seconds']} | {r['vpdq_s']:.2f} | {r['tmk_s']:.2f} | {r['tmk_s'] / r['vpdq_s']:.2f}x |")
    total = {k: sum(r[k] for r in rows) for k in ("seconds", "vpdq_s", "tmk_s")}
    ratio = total["tmk_s"] / total["vpdq_s"]
    print(f"| **all** | {total['seconds']:.0f} | {total['vpdq_s']:.1f} | {total['tmk_s']:.1f} | **{ratio:.2f}x** |\n")
    lookup = bench_lookup(tmk, signals, args.bank, args.queries)
    print(f"Lookup, bank of {lookup['bank']} TMK hashes, median of {lookup['queries']} queries at 0.7/0.7: "
          f"index {lookup['fast_ms']} ms vs brute force {lookup['brute_ms']} ms ({lookup['speedup']}x) "
          f"and a loop over parsed hashes {lookup['loop_ms']} ms ({lookup['speedup_loop']}x); "
          f"index build {lookup['build_s']} s.")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    result = {"hashing": rows, "ratio": round(ratio, 3), "lookup": lookup, "load": load}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
