"""``crossmatch flood list|decide``: bank signals quarantined for a flood, and the curator's decision."""

from __future__ import annotations

from typing import Any

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, opened, out_console, plain, table

app = typer.Typer(help="Flood quarantine: bank signals held from cases and auto actions until a curator decides.",
                  no_args_is_help=True)


def _service(cx: Any) -> Any:
    from crossmatch.audit.service import AuditLog
    from crossmatch.flood.guard import FloodService

    return FloodService(cx.sessions, cx.banks, AuditLog(cx.sessions))


@app.command("list")
def list_quarantines(
    ctx: typer.Context,
    status: str = typer.Option("quarantined", "--status", metavar="STATUS", help="quarantined, released, disabled or all."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List quarantined bank signals, with the grouped case that holds their matches."""
    with opened(ctx, as_json) as cx:
        rows = _service(cx).list(None if status == "all" else status)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    if not rows:
        out_console.print(f"no {'' if status == 'all' else status + ' '}signals")
        return
    shown = table("id", "bank", "item", "type", "status", "held", "case", "reason")
    for r in rows:
        shown.add_row(str(r["id"]), r["bank"], r["bank_item"], r["signal_type"], r["status"], str(r["held"]),
                      plain(r["case_id"]), r["reason"])
    out_console.print(shown)


@app.command("decide")
def decide(
    ctx: typer.Context,
    quarantine: int = typer.Argument(..., metavar="ID", help="The quarantine's id (see `crossmatch flood list`)."),
    decision: str = typer.Argument(..., metavar="DECISION",
                                   help="release (its matches act again, as the bank's policy says) or disable (the bank item stops matching)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide a quarantined signal; written to the audit log."""
    from crossmatch.cli.serve import cli_actor

    with opened(ctx, as_json) as cx:
        row = _service(cx).decide(quarantine, decision, cli_actor())
    if as_json:
        emit_json(row)
    else:
        out_console.print(f"quarantine {row['id']} ({row['bank']}/{row['bank_item']}): {row['status']}", highlight=False)
