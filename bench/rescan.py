"""Re-scan benchmark: 1M stored past signals, 1,000 new bank hashes, planted old uploads.

A backfill stored the PDQ signals of ``--past`` old uploads (Parquet, as
``crossmatch backfill`` writes them: random hashes here).  ``--planted`` of them
are edits (a few bits flipped) of hashes a partner shares later.  The partner's
``--new`` hashes are then imported into the bank, and the clock runs from the
start of ``crossmatch backfill --since-signals SEQ`` until its report: every
planted upload must be flagged, nothing else.

Baseline, measured in the same run: the one-item-at-a-time way (``Engine.match_signals``
per stored item, the full bank index) over a sample, scaled to ``--past`` items.

    python bench/rescan.py --past 1000000 --new 1000 --planted 100
    python bench/rescan.py --smoke
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

PAST_BANK = 2_000  # bank items that were there before the backfill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--past", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--planted", type=int, default=100)
    parser.add_argument("--baseline-sample", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.past, args.new, args.planted, args.baseline_sample = 2_000, 20, 5, 200
    print(json.dumps(run(args.past, args.new, args.planted, args.baseline_sample)))


def run(past: int, new: int, planted: int, sample: int, seed: int = 7) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crossmatch.banks.upsert import ItemUpsert
    from crossmatch.context import open_context
    from crossmatch.scale.rescan import run_rescan
    from crossmatch.settings import Settings
    from crossmatch.signals.base import Signal

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings.load(home=root / "home", workers=1)
        new_hashes = rng.integers(0, 256, size=(new, 32), dtype=np.uint8)
        stored = rng.integers(0, 256, size=(past, 32), dtype=np.uint8)
        planted_rows = rng.choice(past, size=planted, replace=False)
        for n, row in enumerate(planted_rows):  # an edit of a later partner hash: 4-12 bits away
            bits = np.unpackbits(new_hashes[n % new])
            bits[rng.choice(256, size=int(rng.integers(4, 13)), replace=False)] ^= 1
            stored[row] = np.packbits(bits)
        items = [f"old/{i:08d}.jpg" for i in range(past)]
        values = [bytes(h).hex() for h in stored]
        out = root / "out"
        (out / "signals").mkdir(parents=True)
        (out / "items").mkdir()
        pq.write_table(pa.table({"item": items, "type": ["pdq"] * past, "value": values, "quality": pa.array([100] * past, pa.int32()),
                                 "meta": pa.array([None] * past, pa.string())}), out / "signals" / "part-000000.parquet")
        pq.write_table(pa.table({"item": items, "kind": ["image"] * past}), out / "items" / "part-000000.parquet")

        # A long refresh interval: the baseline pays for matching, not for asking the store for changes.
        with open_context(settings, min_refresh_seconds=3600) as cx:
            from crossmatch.banks.schemas import BankSpec

            cx.banks.create_bank(BankSpec(name="partner"))
            old_bank = rng.integers(0, 256, size=(PAST_BANK, 32), dtype=np.uint8)
            cx.banks.upsert_items("partner", [ItemUpsert(f"before-{i}", [Signal("pdq", bytes(h).hex(), 100)]) for i, h in enumerate(old_bank)])
            seq = cx.banks.latest_change()
            cx.banks.upsert_items("partner", [ItemUpsert(f"new-{i}", [Signal("pdq", bytes(h).hex(), 100)]) for i, h in enumerate(new_hashes)])
            # Baseline: each stored item through the engine against the full index, one at a time.
            cx.engine.lookup([Signal("pdq", values[0])])  # the index is loaded before the clock starts
            took = time.perf_counter()
            for i in range(min(sample, past)):
                cx.engine.match_signals([Signal("pdq", values[i], 100)])
            baseline_per_item = (time.perf_counter() - took) / min(sample, past)

        started = time.perf_counter()
        report = run_rescan(settings, out, seq)
        seconds = time.perf_counter() - started
        found = pq.read_table(out / f"rescan-{seq}" / "matches").to_pylist()
        flagged = {m["item"] for m in found}
        expected = {items[r] for r in planted_rows}
    baseline = baseline_per_item * past
    return {"past_signals": past, "new_bank_hashes": new, "planted": planted, "flagged": len(flagged & expected),
            "false_flags": len(flagged - expected), "all_planted_flagged": expected <= flagged,
            "rescan_s": round(seconds, 2), "candidates": report.candidates,
            "baseline_one_by_one_s": round(baseline, 1), "baseline_sample": min(sample, past),
            "speedup": round(baseline / seconds, 1)}


if __name__ == "__main__":
    main()
