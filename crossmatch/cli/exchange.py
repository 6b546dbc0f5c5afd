"""``crossmatch exchange ...``: configure sources, sync them into banks, export banks to share back."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, out_console, progress_bar, user_errors
from crossmatch.context import open_context
from crossmatch.errors import InvalidInput
from crossmatch.exchange.export import FORMATS, export_bank
from crossmatch.exchange.models import Exchange
from crossmatch.exchange.service import KINDS, ExchangeService

app = typer.Typer(help="Exchanges: pull hash lists (files, STIX, ThreatExchange, TCAP, NCMEC...) into banks; share banks back.",
                  no_args_is_help=True)


def exchange_json(row: Exchange) -> dict:
    return {"name": row.name, "kind": row.kind, "bank": row.bank_name, "config": _redacted(row.config), "enabled": row.enabled,
            "interval_seconds": row.interval_seconds, "checkpoint": row.checkpoint, "last_sync_at": row.last_sync_at,
            "last_error": row.last_error}


def _redacted(config: dict) -> dict:
    return {k: ("***" if "password" in k or "token" in k else v) for k, v in (config or {}).items()}


def _config(values: list[str]) -> dict:
    """KEY=VALUE pairs; ``collab.KEY=VALUE`` goes into the python-threatexchange collab settings; values may be JSON."""
    out: dict = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--config {value!r} must look like KEY=VALUE (e.g. path=list.csv, api=tat, collab.privacy_group=123)")
        try:
            parsed = json.loads(val)
        except json.JSONDecodeError:
            parsed = val
        if key.startswith("collab."):
            out.setdefault("collab", {})[key[len("collab."):]] = parsed
        else:
            out[key] = parsed
    if "path" in out:
        out["path"] = str(Path(str(out["path"])).expanduser().resolve())
    return out


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(KINDS)}."),
    bank: str = typer.Option(..., "--bank", help="Bank the exchange fills (create it first with `crossmatch bank create`)."),
    config: list[str] = typer.Option([], "--config", "-c", help="KEY=VALUE: path=FILE (file, stix); api=NAME, collab.KEY=VALUE, base_url=URL, credentials_env=VAR (pytx)."),
    interval: int = typer.Option(3600, "--interval", help="Seconds between scheduled syncs in the server; 0 = manual only."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add an exchange that syncs into a bank."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        row = ExchangeService(cx).add(name, kind, bank, _config(config), interval)
        if as_json:
            emit_json(exchange_json(row))
        else:
            out_console.print(f"added {row.kind} exchange [bold]{row.name}[/bold] -> bank {row.bank_name}; run `crossmatch exchange sync {row.name}`")


@app.command("list")
def list_exchanges(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List exchanges, their checkpoints and last errors."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        rows = ExchangeService(cx).list()
        if as_json:
            for row in rows:
                emit_json(exchange_json(row))
            return
        table = Table("name", "kind", "bank", "enabled", "interval", "last sync", "last error")
        for row in rows:
            table.add_row(row.name, row.kind, row.bank_name, "yes" if row.enabled else "no", str(row.interval_seconds),
                          str(row.last_sync_at or "never"), (row.last_error or "")[:80])
        out_console.print(table if rows else "no exchanges yet: add one with `crossmatch exchange add NAME --kind file --bank BANK -c path=list.csv`")


@app.command("sync")
def sync(ctx: typer.Context, name: str, as_json: bool = JSON_OPTION) -> None:
    """Fetch from the exchange's checkpoint into its bank; rerun to resume after an error."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        with progress_bar(f"syncing {name}", enabled=not as_json) as advance:
            report = ExchangeService(cx).sync(name, progress=advance)
        if as_json:
            emit_json(report.to_json())
        else:
            out_console.print(f"{name}: added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                              f"removed {report.removed}, {len(report.errors)} bad record(s)")
            for error in report.errors[:20]:
                err_console.print(f"  [yellow]{error.item}[/yellow]: {error.error}")
            if len(report.errors) > 20:
                err_console.print(f"  ... and {len(report.errors) - 20} more (use --json for all)")
            for warning in report.warnings[:5]:
                err_console.print(f"  [dim]{warning.item}: {warning.error}[/dim]")
            if report.error:
                err_console.print(f"[red]error:[/red] {report.error}")
        if report.error:
            raise typer.Exit(1)


@app.command("set")
def set_exchange(
    ctx: typer.Context,
    name: str,
    enabled: Optional[bool] = typer.Option(None, "--enabled/--disabled"),
    interval: Optional[int] = typer.Option(None, "--interval"),
    reset: bool = typer.Option(False, "--reset", help="Forget the checkpoint: the next sync reads the source from the start."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enable/disable an exchange, change its schedule, or reset its checkpoint."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        service = ExchangeService(cx)
        changes = {k: v for k, v in {"enabled": enabled, "interval_seconds": interval}.items() if v is not None}
        row = service.update(name, **changes) if changes else service.get(name)
        if reset:
            service.reset(name)
            row = service.get(name)
        emit_json(exchange_json(row)) if as_json else out_console.print(exchange_json(row))


@app.command("remove")
def remove(ctx: typer.Context, name: str, as_json: bool = JSON_OPTION) -> None:
    """Forget an exchange (its bank items stay; disable or delete them in the bank)."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        ExchangeService(cx).remove(name)
        emit_json({"removed": name}) if as_json else out_console.print(f"removed exchange {name}")


@app.command("export")
def export(
    ctx: typer.Context,
    bank: str,
    fmt: str = typer.Option("jsonl", "--format", "-f", help=f"One of: {', '.join(FORMATS)} (te: ThreatExchange descriptor uploads)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    quantize: bool = typer.Option(False, "--quantize", help="Share text embeddings as int8 (smaller, coarser; see docs/exchange.md on privacy)."),
    privacy_group: Optional[int] = typer.Option(None, "--privacy-group", help="ThreatExchange privacy group for --format te."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export a bank's signals, labels and review opinions (never media) to share with peers."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        total = cx.banks.bank_stats(cx.banks.get_bank(bank).id)["items"]
        handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            with progress_bar(f"exporting {bank}", total=total, enabled=output is not None and not as_json) as advance:
                count = export_bank(cx, bank, fmt, handle, quantize_vectors=quantize, progress=advance, privacy_group=privacy_group)
        finally:
            if output:
                handle.close()
        if output:
            summary = {"bank": bank, "format": fmt, "items": count, "output": str(output)}
            emit_json(summary) if as_json else err_console.print(f"exported {count} item(s) of {bank} to {output}")
