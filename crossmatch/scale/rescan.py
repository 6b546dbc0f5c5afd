"""``crossmatch backfill --since-signals SEQ``: match stored signals of past content against new bank items only.

When a bank gains items (an exchange sync), nothing is hashed again.  The
signals a backfill stored (``OUT/signals/*.parquet``) are matched against an
index of only the bank signals added to the change log after ``SEQ``:

1. prefilter: every stored hash of a Hamming type (pdq) in one vectorised range
   search against the small new-items index, at the loosest bank threshold;
   other types keep every item that has a signal of that type;
2. decide: each candidate item's signals go through the one Engine
   (``match_signals``: per-bank thresholds, disabled items, the allow rule),
   keeping only matches to the new bank items;
3. record: matches to Parquet and the store as the banks' policies say, in one
   transaction with the run's "finished" row, so a rerun changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from crossmatch.settings import Settings

HEX_HASH_CHARS = 64  # 256-bit Hamming hashes (pdq) are prefiltered in one vectorised search


@dataclass
class RescanReport:
    run: str
    since: int
    newest: int = 0  # the change number to give next time
    new_signals: int = 0
    stored_signals: int = 0
    candidates: int = 0
    matched: int = 0
    cases: int = 0
    actions: int = 0
    skipped: bool = False
    seconds: float = 0.0
    out: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_rescan(settings: Settings, out: Path, since: int, banks: Sequence[str] = (),
               progress: Callable[[int], None] | None = None) -> RescanReport:
    import pyarrow.dataset as pads

    from crossmatch.context import open_context
    from crossmatch.engine import ScanResult
    from crossmatch.index.manager import _empty_index
    from crossmatch.scale.record import Recorder
    from crossmatch.signals.base import Signal

    started = time.perf_counter()
    out = Path(out)
    signals_dir = out / "signals"
    if not signals_dir.is_dir():
        raise ValueError(f"{signals_dir} does not exist: run `crossmatch backfill SOURCE --out {out}` first")
    run = f"rescan-{since}-{hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]}"
    report = RescanReport(run=run, since=since, out=str(out / f"rescan-{since}"))
    with open_context(settings) as cx:
        report.newest = cx.banks.latest_change()
        recorder = Recorder(cx, run, out / f"rescan-{since}", source_label="rescan")
        if 0 in recorder.finished():
            report.skipped = True
            return report
        table = pads.dataset(str(signals_dir), format="parquet").to_table(columns=["item", "type", "value", "quality", "meta"])
        report.stored_signals = table.num_rows
        types = table.column("type").to_numpy(zero_copy_only=False)
        items = table.column("item").to_numpy(zero_copy_only=False)
        values = table.column("value").to_numpy(zero_copy_only=False)
        new_items: set[int] = set()
        candidates: set[str] = set()
        for type_name in sorted(set(types.tolist())):
            if type_name not in cx.registry:
                continue
            added, _removed, _newest = cx.banks.changes_since(type_name, since)
            if not added:
                continue
            report.new_signals += len(added)
            refs = cx.banks.describe_signals([sid for sid, _ in added])
            new_items.update(ref.item_id for ref in refs.values())
            rows = np.flatnonzero(types == type_name)
            signal_type = cx.registry.get(type_name)
            small = _empty_index(signal_type)
            small.add(added)
            if hasattr(small, "query_many") and rows.size and len(values[rows[0]]) == HEX_HASH_CHARS:
                hashes = np.frombuffer(bytes.fromhex("".join(values[rows].tolist())), dtype=np.uint8).reshape(-1, 32)
                hits = small.query_many(hashes, _loosest(cx, signal_type))
                candidates.update(items[rows[i]] for i, found in enumerate(hits) if found)
            else:  # no vectorised prefilter for this type: the engine decides every item that has one
                candidates.update(items[rows].tolist())
        report.candidates = len(candidates)
        wanted = set(banks)
        results = []
        by_item: dict[str, list[Signal]] = defaultdict(list)
        if candidates:
            mask = np.isin(items, np.array(sorted(candidates), dtype=object))
            quality = table.column("quality").to_pylist()
            meta = table.column("meta").to_pylist()
            for i in np.flatnonzero(mask).tolist():
                by_item[items[i]].append(Signal(types[i], values[i], quality[i], json.loads(meta[i]) if meta[i] else {}))
        kinds = _kinds(out / "items", set(by_item))
        for item, signals in by_item.items():
            found, _hidden = cx.engine.match_signals(signals)
            found = [m for m in found if m.bank_item_id in new_items and (not wanted or m.bank in wanted)]
            if found:
                results.append(ScanResult(item, kinds.get(item, "unknown"), signals=signals, matches=found))
            if progress is not None:
                progress(1)
        totals = recorder.record(0, results, with_signals=False)
        report.skipped = totals.skipped
        report.matched, report.cases, report.actions = totals.matched, totals.cases, totals.actions
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _loosest(cx: Any, signal_type: Any) -> float:
    banks = [b for b in cx.banks.list_banks() if b.enabled]
    values = [float(b.thresholds.get(signal_type.name, signal_type.default_threshold)) for b in banks] or [signal_type.default_threshold]
    return min(max(values), signal_type.max_threshold) if signal_type.metric == "distance" else max(min(values), signal_type.max_threshold)


def _kinds(items_dir: Path, wanted: set[str]) -> dict[str, str]:
    """The content kind the backfill recorded for each wanted item."""
    import pyarrow.dataset as pads

    if not wanted or not items_dir.is_dir():
        return {}
    table = pads.dataset(str(items_dir), format="parquet").to_table(columns=["item", "kind"])
    return {i: k for i, k in zip(table.column("item").to_pylist(), table.column("kind").to_pylist()) if i in wanted}
