"""``crossmatch hash``, ``crossmatch scan`` and ``crossmatch lookup``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from crossmatch.cli.output import JSON_OPTION, emit_json, out_console, progress_bar, user_errors
from crossmatch.context import open_context
from crossmatch.engine import ScanResult
from crossmatch.hashing import BatchHasher
from crossmatch.items import ItemError, iter_contents
from crossmatch.signals.base import Content, Signal
from crossmatch.signals.registry import SignalRegistry


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_cmd)
    app.command("scan")(scan_cmd)
    app.command("lookup")(lookup_cmd)


def hash_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files, folders or JSONL item lists."),
    all_variants: bool = typer.Option(False, "--all-variants", help="Also print query-only variants (dihedral PDQ)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Hash content without a database: one result per item."""
    settings = ctx.obj
    registry = SignalRegistry.from_entry_points(settings)

    def report(item: str, signals: list[Signal], error: str | None, warnings: list[str] = ()) -> None:
        shown = [s for s in signals if all_variants or not s.meta.get("query_only")]
        record = {
            "item": item,
            # meta names each signal's variant or region (pdq: the file's own hash has "reference": true).
            "signals": [s.to_json() for s in shown],
            "error": error,
        }
        if warnings:
            record["warnings"] = list(warnings)
        if as_json:
            emit_json(record)
        else:
            out_console.print(f"[bold]{item}[/bold]" + (f"  [red]{error}[/red]" if error else ""))
            for s in shown:
                quality = f" (quality {s.quality})" if s.quality is not None else ""
                out_console.print(f"  {s.type:10} {s.value[:96]}{quality}")

    with progress_bar("hashing", enabled=not as_json) as advance:
        for entry, hashed in BatchHasher(settings, registry).map(iter_contents(paths)):
            if isinstance(entry, ItemError):
                report(entry.item, [], entry.error)
            else:
                report(entry.item, hashed.signals, hashed.error, hashed.warnings)
            advance()


def scan_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Files, folders or JSONL item lists."),
    text: list[str] = typer.Option([], "--text", help="Scan this text (repeatable)."),
    deep: Optional[bool] = typer.Option(None, "--deep/--no-deep", help="Force or skip the costly pass (OCR, region crops)."),
    signals: bool = typer.Option(False, "--signals", help="Include the query's signals in the output."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scan content against every enabled bank. Exit code 0 whenever the run completes."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        items: list = [Content(f"text:{i + 1}", "text", text=t) for i, t in enumerate(text)]

        def stream():
            yield from items
            if paths:
                yield from iter_contents(paths)

        counts = {"items": 0, "matched": 0, "errors": 0}
        with progress_bar("scanning", enabled=not as_json) as advance:
            for result in cx.engine.scan_many(stream(), deep=deep):
                counts["items"] += 1
                counts["matched"] += bool(result.matches)
                counts["errors"] += bool(result.error)
                if as_json:
                    emit_json(result.to_json(with_signals=signals))
                else:
                    _print_result(result)
                advance()
        if not as_json:
            out_console.print(f"{counts['items']} items, {counts['matched']} matched, {counts['errors']} errors")


def lookup_cmd(
    ctx: typer.Context,
    signal_type: str = typer.Argument(..., help="Signal type, e.g. pdq or md5."),
    value: str = typer.Argument(..., help="The signal value, e.g. a 64-hex-char PDQ hash."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Match one signal (e.g. a hash from a partner's list) against the banks."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        try:
            canonical = cx.registry.get(signal_type).validate(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        matches = cx.engine.lookup([Signal(signal_type, canonical)])
        if as_json:
            emit_json({"signal_type": signal_type, "signal": canonical, "matches": [m.to_json() for m in matches]})
        else:
            _print_result(ScanResult(f"{signal_type}:{canonical}", "signal", matches=matches))


def _print_result(result: ScanResult) -> None:
    if result.error and not result.matches:
        out_console.print(f"[red]error[/red] {result.item}: {result.error}")
        return
    if not result.matches:
        out_console.print(f"[dim]no match[/dim] {result.item}" + "".join(f"\n  [yellow]warning[/yellow] {w}" for w in result.warnings))
        return
    table = Table(title=f"MATCH {result.item}", title_justify="left", show_edge=False)
    for column in ("bank", "item", "type", "distance/score", "threshold", "why"):
        table.add_column(column)
    for m in result.matches:
        value = m.distance if m.distance is not None else m.score
        table.add_row(m.bank, m.bank_item, m.signal_type, f"{value:.3g}", f"{m.threshold:g}", _why(m.evidence))
    out_console.print(table)
    for m in result.suppressed:
        out_console.print(f"  [dim]suppressed {m.bank}/{m.bank_item} by allow bank {m.suppressed_by}[/dim]")


def _why(evidence: dict) -> str:
    """A one-line reason for people; the full evidence is in --json."""
    meta = evidence.get("query_meta") or {}
    parts = []
    if meta.get("variant") and meta["variant"] != "original":
        detail = meta.get("region") or meta.get("band")
        parts.append(f"{meta['variant']}{f' ({detail})' if detail else ''}")
    if meta.get("box"):
        parts.append(f"box {meta['box']}")
    for key in ("summary", "coverage", "query_ranges", "bank_ranges", "bank_coverage"):
        if key in evidence:
            value = evidence[key]
            parts.append(f"{key.replace('_', ' ')} {round(value, 2) if isinstance(value, float) else value}")
    return ", ".join(parts) or "same picture"
