"""Backfill benchmark: images/s hashed and matched on Ray (1 and 2 CPUs) against single-process `crossmatch scan`.

One folder of generated posters (``--images``; a tenth of them are edited
copies of bank items, so matches open cases), scanned in this run by:

- baseline: the engine's single-process batch scan (what ``crossmatch --workers 1 scan DIR`` runs),
- ``crossmatch backfill`` (``run_backfill``) on a local Ray with 1 actor, then 2 actors;
  each timing includes actor start-up (one Engine each), Parquet writes and case commits.

Ray's own start (``ray.init``) is reported apart: a cluster pays it once, not per backfill.
Overhead = Ray with 1 actor / baseline - 1; scaling = 1 actor / 2 actors.

    python bench/backfill.py --images 400
    python bench/backfill.py --smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(12 if args.smoke else args.images)))


def run(n: int) -> dict:
    import ray

    from crossmatch.context import open_context
    from crossmatch.items import iter_contents
    from crossmatch.samples import EDITS, make_poster, to_bytes
    from crossmatch.scale.backfill import run_backfill
    from crossmatch.settings import Settings
    from crossmatch.signals.base import Signal

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder, known = root / "uploads", root / "known"
        folder.mkdir()
        known.mkdir()
        for i in range(n):
            poster = make_poster(20_000 + i)
            if i % 10 == 0:
                (known / f"k{i:05d}.jpg").write_bytes(to_bytes(poster))
                poster = EDITS["resized"](poster)
            (folder / f"u{i:05d}.jpg").write_bytes(to_bytes(poster))
        settings = Settings.load(home=root / "home", workers=1, deep_scan=False)
        with open_context(settings) as cx:
            from crossmatch.banks.schemas import BankSpec

            cx.banks.create_bank(BankSpec(name="known"))
        _import(settings, known)

        with open_context(settings) as cx:  # baseline: single process, index loaded before the clock
            cx.engine.lookup([Signal("pdq", "0" * 64)])
            started = time.perf_counter()
            results = list(cx.engine.scan_many(iter_contents([folder]), deep=False, workers=1))
            baseline = time.perf_counter() - started
            matched_baseline = sum(bool(r.matches) for r in results)

        init_started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        ray_init = time.perf_counter() - init_started
        timings, matched = {}, {}
        for cpus in (1, 2):
            started = time.perf_counter()
            report = run_backfill(settings, folder, root / f"out{cpus}", cpus=cpus, deep=False)
            timings[cpus] = time.perf_counter() - started
            matched[cpus] = report.matched
        ray.shutdown()
    return {"images": n, "baseline_scan_s": round(baseline, 2), "baseline_images_per_s": round(n / baseline, 1),
            "ray_1cpu_s": round(timings[1], 2), "ray_2cpu_s": round(timings[2], 2),
            "ray_2cpu_images_per_s": round(n / timings[2], 1), "ray_init_s": round(ray_init, 1),
            "ray_2cpu_vs_baseline": round(baseline / timings[2], 2), "scaling_1_to_2": round(timings[1] / timings[2], 2),
            "ray_overhead_1cpu": round(timings[1] / baseline - 1, 3),
            "matched": {"baseline": matched_baseline, "ray_1cpu": matched[1], "ray_2cpu": matched[2]}}


def _import(settings, known: Path) -> None:
    from typer.testing import CliRunner

    from crossmatch.cli import app

    result = CliRunner().invoke(app, ["--home", str(settings.home), "bank", "import", "known", str(known), "--json"])
    assert result.exit_code == 0, result.output


if __name__ == "__main__":
    main()
