"""``crossmatch backfill``: scan a backlog on Ray (resumable), or re-scan stored signals against new bank items."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, fail, json_error, out_console, progress_bar, user_errors


def backfill_cmd(
    ctx: typer.Context,
    source: Optional[Path] = typer.Argument(None, metavar="SOURCE",
                                            help="A folder, a JSONL item list or a Parquet listing (columns path/media, id, text, url)."),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Results folder: items/, signals/ and matches/ Parquet files."),
    bank: Optional[List[str]] = typer.Option(None, "--bank", metavar="NAME", help="Report matches of this bank only (repeatable); default every enabled bank."),
    since_signals: Optional[int] = typer.Option(
        None, "--since-signals", metavar="SEQ",
        help="Re-scan: match the signals stored in --out against bank signals added after change number SEQ; hashes nothing."),
    address: Optional[str] = typer.Option(None, "--address", metavar="ADDR", help="Ray cluster address (auto or ray://host:10001); default a local Ray."),
    cpus: Optional[int] = typer.Option(None, "--cpus", metavar="N", help="Scanning actors (one CPU each); default every CPU Ray has."),
    deep: Optional[bool] = typer.Option(None, "--deep/--no-deep", help="Force or skip the costly pass (OCR, region crops)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scan what is already hosted, on Ray Data, writing Parquet results and opening cases per each bank's policy.

    A rerun with the same SOURCE and --out skips finished partitions: nothing is lost or counted twice.
    """
    if since_signals is None and source is None:
        message = "give a SOURCE to scan, or --since-signals SEQ to re-scan the signals stored in --out"
        if as_json:
            json_error("UsageError", message)
            raise typer.Exit(2)
        raise fail(message)
    if source is not None and since_signals is None and not source.exists():
        message = f"cannot read {source}: no such file or folder"
        if as_json:
            json_error("UnreadableInput", message, path=str(source))
            raise typer.Exit(2)
        raise fail(f"{message}; check the path (nothing was read)")
    settings = ctx.obj
    try:
        with user_errors(as_json), progress_bar("re-scanning" if since_signals is not None else "backfill",
                                                enabled=not as_json) as advance:
            if since_signals is not None:
                from crossmatch.scale.rescan import run_rescan

                report = run_rescan(settings, out, since_signals, bank or (), progress=advance)
            else:
                from crossmatch.scale.backfill import run_backfill

                report = run_backfill(settings, source, out, bank or (), address, cpus, deep, progress=advance)
    except ModuleNotFoundError as exc:
        raise _missing_extra(exc, as_json) from None
    except ValueError as exc:
        if as_json:
            json_error("InvalidInput", str(exc))
            raise typer.Exit(2) from None
        raise fail(str(exc)) from None
    if as_json:
        emit_json(report.to_json())
        return
    data = report.to_json()
    if since_signals is not None:
        out_console.print(f"re-scan since change {report.since}: {report.stored_signals} stored signals, {report.new_signals} new "
                          f"bank signals, {report.candidates} candidates, {report.matched} items matched, {report.cases} cases, "
                          f"{report.actions} actions in {report.seconds:.1f} s" + (" (already done)" if report.skipped else ""))
        err_console.print(f"next time: --since-signals {report.newest}")
    else:
        out_console.print(f"{data['items']} items in {data['partitions'] - data['skipped']} partitions "
                          f"({data['skipped']} already finished), {data['matched']} matched, {data['errors']} not fully checked, "
                          f"{data['cases']} cases, {data['actions']} actions in {data['seconds']:.1f} s; results in {out}")


def _missing_extra(exc: ModuleNotFoundError, as_json: bool) -> typer.Exit:
    message = f"{exc.name} is not installed: install the scale extra (pip install 'crossmatch[scale]')"
    if as_json:
        json_error("MissingDependency", message)
        return typer.Exit(2)
    return fail(message)
