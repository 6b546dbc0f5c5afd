"""Bulk load of a hash list: `crossmatch bank import` of an N-row CSV (default 1M) beside a plain
``csv`` read of the same file in the same run, and beside the per-batch upsert path
(``BankService.upsert_items`` in batches of 500, what import did before) on a slice.

Times: the import to matchable (the first lookup of the last row after the import, through
the serving index), and a rerun of the same list (nothing changes).

    .venv/bin/python bench/bulk_load.py [--rows 1000000] [--old-rows 100000] [--postgres URL]
    .venv/bin/python bench/bulk_load.py --smoke
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crossmatch.banks.importers import _csv_items, ImportReport  # noqa: E402
from crossmatch.banks.schemas import BankSpec  # noqa: E402
from crossmatch.context import open_context  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Signal  # noqa: E402

CROSSMATCH = str(Path(sys.executable).with_name("crossmatch"))


def make_list(path: Path, rows: int) -> str:
    last = ""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["signal_type", "signal", "id", "entity", "category"])
        for i in range(rows):
            last = hashlib.md5(i.to_bytes(8, "little")).hexdigest()
            writer.writerow(["md5", last, f"item-{i}", f"Example Entity {i % 20}", "test"])
    return last


def plain_read(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) > 0
    return time.perf_counter() - start


def cli(home: Path, db: str | None, *args: str) -> None:
    cmd = [CROSSMATCH, "--home", str(home)] + (["--database-url", db] if db else []) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ})


def fresh_db(pg: str | None, name: str) -> str | None:
    if not pg:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    return pg + ("&" if "?" in pg else "?") + f"options=-csearch_path%3D{name}"


def bulk(path: Path, last: str, pg: str | None, tmp: Path) -> dict:
    home, db = tmp / "bulk-home", fresh_db(pg, "bench_bulk")
    cli(home, db, "bank", "create", "shared")
    start = time.perf_counter()
    cli(home, db, "bank", "import", "shared", str(path))
    imported = time.perf_counter() - start
    with open_context(Settings.load(home=home, database_url=db)) as ctx:
        found = ctx.engine.lookup([Signal("md5", last)])
    matchable = time.perf_counter() - start
    assert found, "the last row is not matchable"
    start = time.perf_counter()
    cli(home, db, "bank", "import", "shared", str(path))
    rerun = time.perf_counter() - start
    return {"import": imported, "matchable": matchable, "rerun": rerun}


def old_path(path: Path, rows: int, pg: str | None, tmp: Path) -> float:
    """The per-batch path (upsert_items, 500 per batch) on the first ``rows`` rows, in-process."""
    home, db = tmp / "old-home", fresh_db(pg, "bench_old")
    with open_context(Settings.load(home=home, database_url=db)) as ctx:
        ctx.banks.create_bank(BankSpec(name="shared"))
        report = ImportReport()
        start = time.perf_counter()
        batch = []
        for n, item in enumerate(_csv_items(path, ctx.registry, report, None, ctx.settings)):
            if n >= rows:
                break
            batch.append(item)
            if len(batch) == 500:
                ctx.banks.upsert_items("shared", batch)
                batch = []
        if batch:
            ctx.banks.upsert_items("shared", batch)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--old-rows", type=int, default=100_000, help="rows for the per-batch path (it is slow)")
    ap.add_argument("--postgres", default=os.environ.get("CROSSMATCH_TEST_POSTGRES_URL"), help="also on this PostgreSQL")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.old_rows = 2000, 1000
    print(f"load: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "list.csv"
        last = make_list(path, args.rows)
        read = plain_read(path)
        print(f"| store | rows | csv read s | bank import s | to matchable s | rerun s | import / csv read | per-batch path rows/s | bulk rows/s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for store, pg in [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else []):
            b = bulk(path, last, pg, tmp / store)
            old = old_path(path, args.old_rows, pg, tmp / store)
            print(f"| {store} | {args.rows:,} | {read:.2f} | {b['import']:.1f} | {b['matchable']:.1f} | {b['rerun']:.1f} | "
                  f"{b['import'] / read:.1f}x | {args.old_rows / old:,.0f} | {args.rows / b['import']:,.0f} |", flush=True)
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
