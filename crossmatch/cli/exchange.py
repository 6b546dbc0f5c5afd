"""``crossmatch exchange ...``: configure sources, sync them into banks, export banks to share back."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, kv_table, out_console, plain, progress_bar, table, opened

# Spelled out here so `--help` needs no import of the exchange code (tests/test_cli_first_hour.py checks they agree).
KINDS = ("file", "stix", "pytx")
FORMATS = ("jsonl", "csv", "te", "stix")
NAME = typer.Argument(..., metavar="EXCHANGE", help="The exchange's name.")

app = typer.Typer(help="Exchanges: pull hash lists (files, STIX, ThreatExchange, TCAP, NCMEC...) into banks; share banks back.",
                  no_args_is_help=True)


@contextmanager
def exchanges(ctx: typer.Context, as_json: bool) -> Iterator[tuple[Any, Any]]:
    from crossmatch.exchange.service import ExchangeService

    with opened(ctx, as_json) as cx:
        yield cx, ExchangeService(cx)


def exchange_json(row: Any) -> dict:
    return {"name": row.name, "kind": row.kind, "bank": row.bank_name, "config": _redacted(row.config), "enabled": row.enabled,
            "interval_seconds": row.interval_seconds, "checkpoint": row.checkpoint, "last_sync_at": row.last_sync_at,
            "last_error": row.last_error}


def _redacted(config: dict) -> dict:
    return {k: ("***" if "password" in k or "token" in k else v) for k, v in (config or {}).items()}


def _config(values: list[str], kind: str) -> dict:
    """KEY=VALUE pairs; ``collab.KEY=VALUE`` goes into the python-threatexchange collab settings; values may be JSON."""
    from crossmatch.errors import InvalidInput

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
        path = Path(str(out["path"])).expanduser().resolve()
        if kind in ("file", "stix") and not path.is_file():
            raise InvalidInput(f"-c path={out['path']}: {'no such file' if not path.exists() else 'not a file'} ({path}); "
                               f"the {kind} exchange reads that file on every sync")
        out["path"] = str(path)
    return out


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = NAME,
    kind: str = typer.Option(..., "--kind", metavar="|".join(KINDS), help="file: a CSV/JSONL hash list; stix: a STIX 2.1 bundle; "
                             "pytx: a python-threatexchange exchange (ThreatExchange, TCAP, NCMEC, local_file, sample...)."),
    bank: str = typer.Option(..., "--bank", metavar="BANK", help="Bank the exchange fills (create it first with `crossmatch bank create`)."),
    config: list[str] = typer.Option([], "--config", "-c", metavar="KEY=VALUE", help="path=FILE (file, stix); api=NAME, collab.KEY=VALUE, "
                                     "base_url=URL, credentials_env=VAR, feedback_reason=GUID (pytx). Repeatable."),
    interval: int = typer.Option(3600, "--interval", metavar="SECONDS", help="Seconds between scheduled syncs in the server; 0 = manual only."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add an exchange that syncs into a bank."""
    with exchanges(ctx, as_json) as (cx, service):
        row = service.add(name, kind, bank, _config(config, kind), interval)
        if as_json:
            emit_json(exchange_json(row))
        else:
            out_console.print(f"added {row.kind} exchange [bold]{row.name}[/bold] -> bank {row.bank_name}; run `crossmatch exchange sync {row.name}`")


@app.command("list")
def list_exchanges(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List exchanges, their checkpoints and last errors."""
    with exchanges(ctx, as_json) as (cx, service):
        rows = service.list()
        if as_json:
            for row in rows:
                emit_json(exchange_json(row))
            return
        if not rows:
            out_console.print("no exchanges yet: add one with `crossmatch exchange add NAME --kind file --bank BANK -c path=list.csv`")
            return
        shown = table("name", "kind", "bank", "enabled", "interval", "last sync", "last error")
        for row in rows:
            shown.add_row(row.name, row.kind, row.bank_name, plain(row.enabled), f"{row.interval_seconds} s" if row.interval_seconds else "manual",
                          plain(row.last_sync_at) if row.last_sync_at else "never", row.last_error or "-")
        out_console.print(shown)


@app.command("sync")
def sync(ctx: typer.Context, name: str = NAME, as_json: bool = JSON_OPTION) -> None:
    """Fetch from the exchange's checkpoint into its bank; rerun to resume after an error.

    Credentials (TX_ACCESS_TOKEN, PYTX_TAT_CREDENTIALS, ...) are read from this process's environment:
    for the server's scheduled syncs, set them in the environment of `crossmatch serve`.
    """
    with exchanges(ctx, as_json) as (cx, service):
        with progress_bar(f"syncing {name}", enabled=not as_json) as advance:
            report = service.sync(name, progress=advance)
        if as_json:
            emit_json(report.to_json())
        else:
            out_console.print(f"{name}: added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                              f"removed {report.removed}, {len(report.errors)} bad record(s)")
            for error in report.errors[:20]:
                err_console.print(f"  [yellow]{error.item}[/yellow]: {error.error}", highlight=False)
            if len(report.errors) > 20:
                err_console.print(f"  ... and {len(report.errors) - 20} more (use --json for all)")
            for warning in report.warnings[:5]:
                err_console.print(f"  [dim]{warning.item}: {warning.error}[/dim]")
            if report.error:
                err_console.print(f"[red]error:[/red] {report.error}")
        if report.error:
            raise typer.Exit(1)


@app.command("feedback")
def feedback(
    ctx: typer.Context,
    name: str = NAME,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the verdicts that would be sent; send nothing."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send reviewers' verdicts (true / false positive) on this exchange's items back to it through its own
    client's feedback call (ThreatExchange reactions, NCMEC votes; docs/exchange.md); each verdict is sent
    once, failures are retried on the next run."""
    from crossmatch.cli.serve import cli_actor
    from crossmatch.exchange.feedback import push

    with exchanges(ctx, as_json) as (cx, service):
        with progress_bar(f"sending verdicts to {name}", enabled=not as_json and not dry_run) as advance:
            report = push(cx, name, cli_actor(), dry_run=dry_run, progress=advance)
        if as_json:
            emit_json(report.to_json())
        else:
            out_console.print(f"{name}: {'would send' if dry_run else 'sent'} {len(report.verdicts) if dry_run else report.sent}, "
                              f"unsupported {report.unsupported}, failed {report.failed}", highlight=False)
            for v in report.verdicts[:20]:
                err_console.print(f"  case {v['case_id']} {v['bank_item']}: {v['opinion']} -> {v['status']} {v.get('detail', '')}",
                                  highlight=False)
        if report.failed:
            raise typer.Exit(1)


@app.command("set")
def set_exchange(
    ctx: typer.Context,
    name: str = NAME,
    enabled: Optional[bool] = typer.Option(None, "--enabled/--disabled", help="Turn scheduled syncs on or off."),
    interval: Optional[int] = typer.Option(None, "--interval", metavar="SECONDS", help="Seconds between scheduled syncs; 0 = manual only."),
    reset: bool = typer.Option(False, "--reset", help="Forget the checkpoint: the next sync reads the source from the start."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enable/disable an exchange, change its schedule, or reset its checkpoint."""
    with exchanges(ctx, as_json) as (cx, service):
        changes = {k: v for k, v in {"enabled": enabled, "interval_seconds": interval}.items() if v is not None}
        row = service.update(name, **changes) if changes else service.get(name)
        if reset:
            service.reset(name)
            row = service.get(name)
        emit_json(exchange_json(row)) if as_json else out_console.print(kv_table(exchange_json(row)))


@app.command("remove")
def remove(ctx: typer.Context, name: str = NAME, as_json: bool = JSON_OPTION) -> None:
    """Forget an exchange (its bank items stay; disable or delete them in the bank)."""
    with exchanges(ctx, as_json) as (cx, service):
        service.remove(name)
        emit_json({"removed": name}) if as_json else out_console.print(f"removed exchange {name}")


@app.command("export")
def export(
    ctx: typer.Context,
    bank: str = typer.Argument(..., metavar="BANK", help="The bank to export."),
    fmt: str = typer.Option("jsonl", "--format", "-f", metavar="|".join(FORMATS),
                            help="jsonl (crossmatch's own), csv (hash list), te (ThreatExchange descriptor uploads) or stix (STIX 2.1 bundle)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="File to write (default: standard output)."),
    quantize: bool = typer.Option(False, "--quantize", help="Share text embeddings as int8 (smaller, coarser; see docs/exchange.md on privacy)."),
    privacy_group: Optional[int] = typer.Option(None, "--privacy-group", metavar="ID", help="ThreatExchange privacy group for --format te."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export a bank's signals, labels and review opinions (never media) to share with peers."""
    from crossmatch.exchange.export import export_bank

    with opened(ctx, as_json) as cx:
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
