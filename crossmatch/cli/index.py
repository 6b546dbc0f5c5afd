"""``crossmatch index verify``: compare each index with the store, and repair it."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, out_console, progress_bar, user_errors

app = typer.Typer(help="Indices: check them against the store, repair, compact.", no_args_is_help=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    signal_type: Optional[List[str]] = typer.Option(None, "--type", help="Only this signal type (repeatable); default all with signals."),
    repair: bool = typer.Option(False, "--repair", help="Rebuild a disagreeing index from the store and save a new snapshot."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load each index as a server would (snapshot, then the change log) and check that it holds
    exactly the store's signals. Exit code 1 when one disagrees and was not repaired."""
    from crossmatch.context import open_context  # heavy: only for this command

    with user_errors(as_json), open_context(ctx.obj) as cx:
        names = signal_type or [n for n in cx.registry.names() if cx.banks.count_signals(n)]
        total = sum(cx.banks.count_signals(n) for n in names)
        with progress_bar("verifying", total=total, enabled=not as_json) as advance:
            reports = cx.indexes.verify(names, repair=repair, progress=advance)
    bad = [r for r in reports if not r.ok and not r.repaired]
    if as_json:
        for report in reports:
            emit_json(report.to_json())
    else:
        table = Table("signal type", "store", "index", "missing", "extra", "status")
        for r in reports:
            status = "ok" if r.ok else ("repaired" if r.repaired else "[red]disagrees[/red]")
            table.add_row(r.signal_type, str(r.store), str(r.index), str(len(r.missing)), str(r.extra), status)
        out_console.print(table)
        if bad:
            err_console.print("run `crossmatch index verify --repair` to rebuild the disagreeing indices from the store")
    if bad:
        raise typer.Exit(1)


@app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    signal_type: Optional[List[str]] = typer.Option(None, "--type", help="Only this signal type (repeatable); default all with signals."),
    every: float = typer.Option(0.0, "--every", metavar="SECONDS", help="Publish again every SECONDS until stopped (0: once)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish fresh index snapshots to the shared directory (scale.snapshot_dir), for replicas to start from.

    Run it in one process per deployment; each type's build holds a database lease, so two never build the same one."""
    import time

    from crossmatch.context import open_context  # heavy: only for this command

    with user_errors(as_json), open_context(ctx.obj) as cx:
        while True:
            written = cx.indexes.publish(signal_type or None)
            if as_json:
                emit_json({"snapshots": written, "dir": str(ctx.obj.index_dir)})
            else:
                shown = ", ".join(f"{name} (change {seq})" for name, seq in written.items()) or "nothing (no persistent type, or leases held)"
                out_console.print(f"published {shown} to {ctx.obj.index_dir}", highlight=False)
            if every <= 0:
                break
            time.sleep(every)
