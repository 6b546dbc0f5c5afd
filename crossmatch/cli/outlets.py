"""``crossmatch outlets ...``: who posted it, flagged accounts, outlets and candidate bank items.

The same OutletService as /api/v1/outlets.  ``outlets scan`` reads a platform's
JSONL export (one post a line: the item fields of ``scan`` plus ``source``) and
is also the backfill: posts keep their own ``posted_at``, and a rerun of the same
export neither duplicates nor drops a post.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, fail, opened, out_console, progress_bar, table

app = typer.Typer(help="Outlets: accounts that re-publish known material, the outlets they form, and new material.",
                  no_args_is_help=True)


def service(cx: Any) -> Any:
    from crossmatch.actions.service import ActionService
    from crossmatch.audit.service import AuditLog
    from crossmatch.outlets.service import OutletService

    return OutletService(cx.sessions, cx.settings, ActionService(cx.sessions, cx.settings, cx.banks),
                         AuditLog(cx.sessions), cx.banks, cx.registry)


def _records(path: Path, sources: dict[str, deque]) -> Iterator[Any]:
    """Contents of an export, remembering each item's source by its id (in order, for repeated ids)."""
    from crossmatch.items import ItemError, MediaRoot, item_from_record, iter_records

    media = MediaRoot(path.parent)  # the one JSONL parser and media guard the importer uses
    with path.open("rb") as handle:
        for where, record in iter_records(handle, path.name):
            if isinstance(record, ItemError):
                yield record
                continue
            content = item_from_record(record, media, where)
            if isinstance(record, dict):
                sources[getattr(content, "item", where)].append(record.get("source"))
            yield content


@app.command("scan")
def scan_cmd(
    ctx: typer.Context,
    export: Path = typer.Argument(..., metavar="EXPORT.jsonl", help="One post a line: id, text/media/url, source {platform, account, post_id, url, posted_at, links, parent}."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scan a platform export and record who posted what (also the backfill of older exports)."""
    if not export.is_file():
        raise fail(f"cannot read {export}: no such file; give the JSONL export of posts")
    with opened(ctx, as_json) as cx:
        outlets = service(cx)
        sources: dict[str, deque] = defaultdict(deque)
        counts = {"posts": 0, "matched": 0, "errors": 0, "warnings": 0}
        with progress_bar("scanning posts", enabled=not as_json) as advance:
            for result in cx.engine.scan_many(_records(export, sources)):
                queue = sources.get(result.item)
                raw = queue.popleft() if queue else None
                record = None if result.error and not result.matches else outlets.observe(raw, result)
                warnings = list((record or {}).get("warnings") or [])
                counts["posts"] += 1
                counts["matched"] += bool(result.matches)
                counts["errors"] += bool(result.error)
                counts["warnings"] += bool(warnings)
                if as_json:
                    emit_json({"item": result.item, "account": (record or {}).get("account"),
                               "matches": [m.to_json() for m in result.matches], "error": result.error,
                               "source_warnings": warnings})
                else:
                    for w in warnings:
                        out_console.print(f"[yellow]warning[/yellow] {result.item}: {w}", highlight=False)
                    if result.error:
                        out_console.print(f"[red]error[/red] {result.item}: {result.error}", highlight=False)
                advance()
        summary = {**counts, **outlets.counts()}
        if as_json:
            emit_json({"summary": summary})
        else:
            out_console.print(f"{counts['posts']} posts, {counts['matched']} matched, {counts['errors']} errors, "
                              f"{counts['warnings']} with source warnings; {summary['flagged']} flagged accounts, "
                              f"{summary['outlets']} outlets, {summary['candidates']} candidates pending")


@app.command("accounts")
def accounts_cmd(ctx: typer.Context, all_accounts: bool = typer.Option(False, "--all", help="Every account, not only flagged ones."),
                 limit: int = typer.Option(100, "--limit", min=1, max=10_000), as_json: bool = JSON_OPTION) -> None:
    """Account records: known items matched, translations, languages, rate, flag."""
    with opened(ctx, as_json) as cx:
        rows = service(cx).accounts(not all_accounts, limit)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    shown = table("account", "platform", "items", "transl.", "languages", "outlet", "flagged")
    for r in rows:
        shown.add_row(r["account"], r["platform"] or "?", str(len(r["items"])), str(r["translations"]),
                      ",".join(sorted(r["languages"])), str(r["outlet_id"] or ""), r["flag_reason"] or "")
    out_console.print(shown)


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Detected outlets."""
    with opened(ctx, as_json) as cx:
        rows = service(cx).outlets()
    if as_json:
        for row in rows:
            emit_json(row)
        return
    shown = table("outlet", "accounts", "platforms", "languages", "items", "first seen")
    for o in rows:
        shown.add_row(str(o["outlet_id"]), str(len(o["accounts"])), ",".join(sorted(o["platforms"])),
                      ",".join(sorted(o["languages"])), str(len(o["items"])), o["first_seen"][:10])
    out_console.print(shown)


@app.command("candidates")
def candidates_cmd(ctx: typer.Context, status: str = typer.Option("pending", "--status", help="pending, accepted or rejected."),
                   as_json: bool = JSON_OPTION) -> None:
    """The curator queue: unbanked material co-posted by flagged accounts."""
    with opened(ctx, as_json) as cx:
        rows = service(cx).candidates(status)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    shown = table("id", "type", "value", "accounts", "posts", "status")
    for c in rows:
        shown.add_row(str(c["id"]), c["signal_type"], c["value"][:24] + "…", str(len(c["accounts"])), str(len(c["posts"])), c["status"])
    out_console.print(shown)


@app.command("decide")
def decide_cmd(ctx: typer.Context, candidate: int = typer.Argument(..., metavar="CANDIDATE_ID"),
               decision: str = typer.Argument(..., metavar="accept|reject"),
               bank: Optional[str] = typer.Option(None, "--bank", help="The bank an accepted candidate is added to."),
               note: Optional[str] = typer.Option(None, "--note"), as_json: bool = JSON_OPTION) -> None:
    """A curator's decision on a candidate; nothing enters a bank without one."""
    from crossmatch.cli.serve import cli_actor

    with opened(ctx, as_json) as cx:
        out = service(cx).decide(candidate, decision, cli_actor(), bank, note)
    if as_json:
        emit_json(out)
    else:
        where = f" into bank {out['bank']} as {out['bank_item']}" if out["bank"] else ""
        out_console.print(f"candidate {candidate} {out['status']}{where}")


@app.command("export")
def export_cmd(ctx: typer.Context, fmt: str = typer.Option("gexf", "--format", help="gexf, graphml, csv or stix."),
               output: Path = typer.Option(..., "--output", "-o", help="File to write."),
               handles: bool = typer.Option(False, "--handles", help="Raw handles instead of pseudonyms (an admin's choice)."),
               as_json: bool = JSON_OPTION) -> None:
    """The account graph for Gephi (GEXF/GraphML), a CSV of accounts, or a STIX 2.1 bundle for partners."""
    from crossmatch.outlets.exports import export_graph

    with opened(ctx, as_json) as cx:
        body = export_graph(service(cx), fmt, handles=handles)
    output.write_bytes(body)
    if as_json:
        emit_json({"format": fmt, "output": str(output), "bytes": len(body)})
    else:
        out_console.print(f"wrote {len(body)} bytes of {fmt} to {output}")


@app.command("purge")
def purge_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Delete posts older than outlets.retention_days."""
    with opened(ctx, as_json) as cx:
        gone = service(cx).purge_expired()
    emit_json({"purged_posts": gone}) if as_json else out_console.print(f"{gone} expired posts deleted")
