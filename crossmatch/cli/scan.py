"""``crossmatch hash``, ``crossmatch scan`` and ``crossmatch lookup``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from crossmatch.cli.inputs import check_readable, iter_inputs
from crossmatch.cli.output import JSON_OPTION, emit_json, json_error, fail, out_console, progress_bar, table, opened, user_errors

PATHS_HELP = "Files, folders or JSONL item lists; - reads paths or JSONL records from standard input."


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_cmd)
    app.command("scan")(scan_cmd)
    app.command("lookup")(lookup_cmd)


def _texts(texts: list[str]) -> list[Any]:
    from crossmatch.signals.base import Content

    return [Content(f"text:{i + 1}", "text", text=t) for i, t in enumerate(texts)]


def _stream(texts: list[str], paths: list[Path] | None) -> Iterator[Any]:
    yield from _texts(texts)
    if paths:
        yield from iter_inputs(paths)


def _once(error: str | None, warnings: list[str]) -> list[str]:
    """Warnings that do not repeat the item's error: a corrupt image fails the cheap pass, then OCR
    ("ocr: <error>") and the deep pass, and is still one error."""
    out: list[str] = []
    for warning in warnings:
        if (error and warning.endswith(error)) or warning in out:
            continue
        out.append(warning)
    return out


def hash_cmd(
    ctx: typer.Context,
    paths: Optional[list[Path]] = typer.Argument(None, metavar="PATH", help=PATHS_HELP),
    text: list[str] = typer.Option([], "--text", metavar="TEXT", help="Hash this text (repeatable)."),
    all_variants: bool = typer.Option(False, "--all-variants", help="Also print query-only variants (dihedral PDQ)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Hash content without a database: one result per item."""
    from crossmatch.hashing import BatchHasher
    from crossmatch.items import ItemError
    from crossmatch.signals.registry import SignalRegistry

    if not paths and not text:
        raise _nothing_given(as_json, "hash")
    check_readable(paths or [], as_json)
    settings = ctx.obj
    with user_errors(as_json):
        registry = SignalRegistry.from_entry_points(settings)

    def report(item: str, signals: list, error: str | None, warnings: list[str] = ()) -> None:
        shown = [s for s in signals if all_variants or not s.meta.get("query_only")]
        record = {
            "item": item,
            # meta names each signal's variant or region (pdq: the file's own hash has "reference": true).
            "signals": [s.to_json() for s in shown],
            "error": error,
        }
        warnings = _once(error, list(warnings))
        if warnings:
            record["warnings"] = warnings
        if as_json:
            emit_json(record)
            return
        out_console.print(f"[bold]{item}[/bold]" + (f"  [red]{error}[/red]" if error else ""), highlight=False)
        for s in shown:
            quality = f" (quality {s.quality})" if s.quality is not None else ""
            value = s.value if len(s.value) <= 96 else f"{s.value[:96]}… ({len(s.value)} characters; --json for all)"
            out_console.print(f"  {s.type:10} {value}{quality}", highlight=False)
        for warning in warnings:
            out_console.print(f"  [yellow]warning[/yellow] {warning}", highlight=False)

    with progress_bar("hashing", enabled=not as_json) as advance:
        for entry, hashed in BatchHasher(settings, registry).map(_stream(text, paths)):
            if isinstance(entry, ItemError):
                report(entry.item, [], entry.error)
            else:
                report(entry.item, hashed.signals, hashed.error, hashed.warnings)
            advance()


def scan_cmd(
    ctx: typer.Context,
    paths: Optional[list[Path]] = typer.Argument(None, metavar="PATH", help=PATHS_HELP),
    text: list[str] = typer.Option([], "--text", metavar="TEXT", help="Scan this text (repeatable); give whole posts, not single sentences."),
    deep: Optional[bool] = typer.Option(None, "--deep/--no-deep", help="Force or skip the costly pass (OCR, region crops)."),
    signals: bool = typer.Option(False, "--signals", help="Include the query's signals in the output."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scan content against every enabled bank.

    Exit code 0 when the run completed (whatever it found; bad items are error records), 2 when a path cannot be read.
    """
    from crossmatch.cli.explain import near_misses, score_notes

    if not paths and not text:
        raise _nothing_given(as_json, "scan")
    check_readable(paths or [], as_json)
    with opened(ctx, as_json) as cx:
        counts = {"items": 0, "matched": 0, "errors": 0}
        shown: list = []
        with progress_bar("scanning", enabled=not as_json) as advance:
            for result in cx.engine.scan_many(_stream(text, paths), deep=deep):
                result.warnings = _once(result.error, result.warnings)
                counts["items"] += 1
                counts["matched"] += bool(result.matches)
                counts["errors"] += bool(result.error)
                if as_json:
                    emit_json(result.to_json(with_signals=signals))
                else:
                    print_result(result, near_misses(cx, result) if result.kind == "text" else [])
                    shown.extend(result.matches)
                advance()
        if not as_json:
            for note in score_notes(shown):
                out_console.print(f"[dim]{note}[/dim]", highlight=False)
            out_console.print(f"{counts['items']} items, {counts['matched']} matched, {counts['errors']} errors")


def lookup_cmd(
    ctx: typer.Context,
    signal_type: str = typer.Argument(..., metavar="SIGNAL_TYPE", help="Signal type, e.g. pdq, md5, sha256 or url."),
    value: str = typer.Argument(..., metavar="VALUE", help="The signal value, e.g. a 64-hex-character PDQ hash."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Match one signal (e.g. a hash from a partner's list) against the banks."""
    from crossmatch.engine import ScanResult
    from crossmatch.signals.base import Signal

    from crossmatch.signals.registry import canonical_type_name

    signal_type = canonical_type_name(signal_type)  # a list's name for it (HASH_TMK, video_tmk_pdqf...) works too
    with opened(ctx, as_json) as cx:
        try:
            canonical = cx.registry.get(signal_type).validate(value)
        except ValueError as exc:
            if as_json:
                json_error("InvalidSignal", str(exc), signal_type=signal_type)
                raise typer.Exit(2) from None
            raise fail(f"{exc}; see `crossmatch hash FILE` for the form of each signal type") from None
        matches = cx.engine.lookup([Signal(signal_type, canonical)])
        if as_json:
            emit_json({"signal_type": signal_type, "signal": canonical, "matches": [m.to_json() for m in matches]})
        else:
            print_result(ScanResult(f"{signal_type}:{canonical}", "signal", matches=matches))


def _nothing_given(as_json: bool, command: str) -> typer.Exit:
    message = f"nothing to {command}: give files, folders, JSONL lists, - for standard input, or --text"
    if as_json:
        json_error("UsageError", message)
        return typer.Exit(2)
    return fail(message)


def print_result(result: Any, misses: list[str] = ()) -> None:
    from crossmatch.cli.explain import why

    if result.error and not result.matches:
        # Hashing errors already start with the item's name.
        message = result.error if result.error.startswith(f"{result.item}:") else f"{result.item}: {result.error}"
        out_console.print(f"[red]error[/red] {message}", highlight=False)
        return
    if not result.matches:
        lines = [f"[dim]no match[/dim] {result.item}"]
        lines += [f"  [yellow]warning[/yellow] {w}" for w in result.warnings]
        lines += [f"  [dim]{m}[/dim]" for m in misses]
        out_console.print("\n".join(lines), highlight=False)
        return
    shown = table("bank", "item", "type", "distance/score", "threshold", "why", title=f"MATCH {result.item}")
    for m in result.matches:
        value = m.distance if m.distance is not None else m.score
        shown.add_row(m.bank, m.bank_item, m.signal_type, f"{value:.3g}", f"{m.threshold:g}", why(m))
    out_console.print(shown)
    for m in result.suppressed:
        out_console.print(f"  [dim]suppressed {m.bank}/{m.bank_item} by allow bank {m.suppressed_by}[/dim]", highlight=False)
    for w in result.warnings:
        out_console.print(f"  [yellow]warning[/yellow] {w}", highlight=False)
