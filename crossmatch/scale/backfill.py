"""``crossmatch backfill``: scan what a platform already hosts on Ray Data, resumably.

The listing (:mod:`crossmatch.scale.sources`) is cut into numbered partitions.
Items of unfinished partitions stream through ``map_batches`` over a pool of
actors; each actor holds one :class:`~crossmatch.engine.Engine` (the same engine
as the CLI and the API, so a backfill decides exactly as a live scan does) and
reads, hashes and matches its items.  The driver receives the results in
order and, as each partition completes, writes its Parquet files and commits
its cases, actions and "finished" row together (:mod:`crossmatch.scale.record`).

Ray is imported only here, when a backfill runs: the rest of crossmatch never needs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from crossmatch.settings import Settings


@dataclass
class BackfillReport:
    run: str
    partitions: int = 0
    skipped: int = 0  # finished by an earlier run
    items: int = 0
    matched: int = 0
    errors: int = 0
    cases: int = 0
    actions: int = 0
    seconds: float = 0.0
    out: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ScanActor:
    """One Engine per Ray actor: opened once, then fed batches of listing rows."""

    def __init__(self, settings_json: str, banks: Sequence[str] = (), deep: bool | None = None) -> None:
        from crossmatch.context import open_context

        self.cx = open_context(Settings.model_validate_json(settings_json))
        self.banks = set(banks)
        self.deep = deep

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from crossmatch.engine import ScanResult
        from crossmatch.items import ItemError
        from crossmatch.scale.sources import content_of

        results = []
        for i in range(len(batch["key"])):
            row = {k: _plain(batch[k][i]) for k in ("key", "path", "record", "base")}
            content = content_of(row)
            if isinstance(content, ItemError):
                result = ScanResult(content.item, "unknown", error=content.error)
            else:
                try:
                    result = self.cx.engine.scan(content, deep=self.deep)
                except Exception as exc:  # fail closed: the item is an error record, never clean
                    result = ScanResult(content.item, content.kind, error=f"scan failed ({type(exc).__name__}: {exc})")
            if self.banks:
                result.matches = [m for m in result.matches if m.bank in self.banks]
            results.append(pickle.dumps(result))
        return {"partition": [int(p) for p in batch["partition"]], "result": results}


def _plain(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def run_key(source: Path, out: Path, partition_items: int) -> str:
    """A run is its source, its output folder and its partition size: the same three resume it."""
    text = f"{Path(source).resolve()}|{Path(out).resolve()}|{partition_items}"
    return f"{Path(source).name[:60]}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def run_backfill(
    settings: Settings,
    source: Path,
    out: Path,
    banks: Sequence[str] = (),
    address: str | None = None,
    cpus: int | None = None,
    deep: bool | None = None,
    progress: Callable[[int], None] | None = None,
    set_total: Callable[[int], None] | None = None,
) -> BackfillReport:
    from crossmatch.context import open_context
    from crossmatch.scale.record import Recorder
    from crossmatch.scale.sources import list_rows, partitions

    started = time.perf_counter()
    size = settings.scale.backfill_partition_items
    run = run_key(source, out, size)
    report = BackfillReport(run=run, out=str(out))
    with open_context(settings) as cx:
        unknown = [b for b in banks if b not in {bank.name for bank in cx.banks.list_banks()}]
        if unknown:
            raise ValueError(f"no bank named {', '.join(map(repr, unknown))}; see `crossmatch bank list`")
        recorder = Recorder(cx, run, Path(out))
        done = recorder.finished()
        parts = list(partitions(list_rows(source), size))
        report.partitions = len(parts)
        report.skipped = sum(1 for n in range(len(parts)) if n in done)
        pending = [(n, rows) for n, rows in enumerate(parts) if n not in done]
        if set_total is not None:
            set_total(sum(len(rows) for _, rows in pending))
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "run.json").write_text(json.dumps({"run": run, "source": str(Path(source).resolve()),
                                                        "partition_items": size, "partitions": len(parts)}))
        if pending:
            expected = {n: len(rows) for n, rows in pending}
            buffers: dict[int, list] = {n: [] for n, _ in pending}
            rows = [{**row, "partition": n} for n, part in pending for row in part]
            for partition, result in _scan_on_ray(settings, rows, banks, address, cpus, deep):
                buffers[partition].append(result)
                if progress is not None:
                    progress(1)
                if len(buffers[partition]) == expected[partition]:
                    totals = recorder.record(partition, buffers.pop(partition))
                    if totals.skipped:
                        report.skipped += 1
                        continue
                    for name in ("items", "matched", "errors", "cases", "actions"):
                        setattr(report, name, getattr(report, name) + getattr(totals, name))
            if buffers:  # Ray lost rows without raising: never report a partial partition as finished
                raise RuntimeError(f"partitions {sorted(buffers)} did not come back whole; rerun to finish them")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _scan_on_ray(settings: Settings, rows: list[dict], banks: Sequence[str], address: str | None, cpus: int | None,
                 deep: bool | None):
    """(partition, ScanResult) for every row, in listing order."""
    import ray
    import ray.data

    _init_ray(address or settings.scale.ray_address, cpus)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # partitions complete one after another
    context.enable_progress_bars = False  # the CLI draws its own
    actors = max(1, int(cpus or ray.cluster_resources().get("CPU", 1)))
    # Each actor embeds text with the cores of one CPU, not all of them.
    actor_settings = settings.model_copy(update={"workers": actors}).model_dump_json()
    batch = settings.scale.backfill_batch_items
    dataset = ray.data.from_items(rows, override_num_blocks=max(actors, min(-(-len(rows) // batch), 10_000)))
    scanned = dataset.map_batches(ScanActor, fn_constructor_args=(actor_settings, tuple(banks), deep),
                                  batch_size=batch, concurrency=actors, num_cpus=1, batch_format="numpy")
    for out in scanned.iter_batches(batch_size=None, batch_format="numpy"):
        for partition, blob in zip(out["partition"], out["result"]):
            yield int(partition), pickle.loads(blob)


def _init_ray(address: str | None, cpus: int | None) -> None:
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
