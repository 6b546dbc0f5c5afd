"""``crossmatch bank ...``: create, list, show, change, delete and import banks and items."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from crossmatch.banks.importers import import_path
from crossmatch.banks.schemas import BankSpec
from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, fail, out_console, progress_bar, user_errors
from crossmatch.context import open_context
from crossmatch.errors import InvalidInput
from crossmatch.store.models import Bank

app = typer.Typer(help="Banks of known items (block) and known-benign items (allow).", no_args_is_help=True)


def bank_json(bank: Bank, stats: dict | None = None) -> dict:
    out = {
        "name": bank.name,
        "kind": bank.kind,
        "enabled": bank.enabled,
        "description": bank.description,
        "labels": bank.labels,
        "thresholds": bank.thresholds,
        "options": bank.options,
        "created_at": bank.created_at.isoformat() if bank.created_at else None,
    }
    if stats is not None:
        out.update(stats)
    return out


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} {value!r} must look like KEY=VALUE")
        out[key.strip()] = val.strip()
    return out


def _thresholds(values: list[str]) -> dict[str, float]:
    out = {}
    for key, val in _pairs(values, "--threshold").items():
        try:
            out[key] = float(val)
        except ValueError:
            raise InvalidInput(f"--threshold {key}={val!r}: the threshold must be a number") from None
    return out


def _options(values: list[str]) -> dict[str, object]:
    parsed: dict[str, object] = {}
    for key, val in _pairs(values, "--option").items():
        parsed[key] = {"true": True, "false": False}.get(val.lower(), val)
    return parsed


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    kind: str = typer.Option("block", "--kind", help="block (known bad) or allow (known benign, suppresses matches)."),
    description: str = typer.Option("", "--description"),
    label: list[str] = typer.Option([], "--label", help="Bank label KEY=VALUE (repeatable)."),
    threshold: list[str] = typer.Option([], "--threshold", help="Per-signal-type threshold TYPE=VALUE, e.g. pdq=31."),
    option: list[str] = typer.Option([], "--option", help="Bank option KEY=VALUE, e.g. ocr=true."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a bank."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        if kind not in ("block", "allow"):
            raise InvalidInput(f"--kind must be block or allow, not {kind!r}")
        thresholds = _thresholds(threshold)
        for type_name in thresholds:
            cx.registry.get(type_name)
        try:
            spec = BankSpec(name=name, kind=kind, description=description, labels=_pairs(label, "--label"), thresholds=thresholds, options=_options(option))
        except ValueError as exc:
            raise InvalidInput(str(exc).splitlines()[-1]) from None
        bank = cx.banks.create_bank(spec)
        if as_json:
            emit_json(bank_json(bank))
        else:
            out_console.print(f"created {bank.kind} bank [bold]{bank.name}[/bold]")


@app.command("list")
def list_banks(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List banks with their item counts."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        banks = cx.banks.list_banks()
        if as_json:
            for bank in banks:
                emit_json(bank_json(bank, cx.banks.bank_stats(bank.id)))
            return
        table = Table("name", "kind", "enabled", "items", "signals", "thresholds")
        for bank in banks:
            stats = cx.banks.bank_stats(bank.id)
            signals = ", ".join(f"{t}:{n}" for t, n in sorted(stats["signals"].items()))
            table.add_row(bank.name, bank.kind, "yes" if bank.enabled else "no", str(stats["items"]), signals, str(bank.thresholds or "defaults"))
        out_console.print(table if banks else "no banks yet: create one with `crossmatch bank create NAME`")


@app.command("show")
def show(ctx: typer.Context, name: str, items: int = typer.Option(20, "--items", help="How many items to list."), as_json: bool = JSON_OPTION) -> None:
    """Show a bank, its settings and its first items."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        bank = cx.banks.get_bank(name)
        stats = cx.banks.bank_stats(bank.id)
        rows = cx.banks.list_items(name, limit=items)
        item_json = [
            {"id": r.external_id, "labels": r.labels, "enabled": r.enabled, "kind": r.content_kind, "confirmed": r.confirmed_count, "rejected": r.rejected_count}
            for r in rows
        ]
        if as_json:
            emit_json({**bank_json(bank, stats), "first_items": item_json})
            return
        out_console.print(bank_json(bank, stats))
        table = Table("item", "kind", "enabled", "labels", "confirmed", "rejected")
        for r in item_json:
            table.add_row(r["id"], str(r["kind"]), "yes" if r["enabled"] else "no", str(r["labels"]), str(r["confirmed"]), str(r["rejected"]))
        out_console.print(table)


@app.command("set")
def set_bank(
    ctx: typer.Context,
    name: str,
    enabled: Optional[bool] = typer.Option(None, "--enabled/--disabled", help="Enable or disable matching against the bank."),
    threshold: list[str] = typer.Option([], "--threshold", help="TYPE=VALUE per-signal-type threshold (repeatable)."),
    option: list[str] = typer.Option([], "--option", help="KEY=VALUE bank option (repeatable)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a bank: enable/disable it, set thresholds or options."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        bank = cx.banks.get_bank(name)
        changes: dict = {}
        if enabled is not None:
            changes["enabled"] = enabled
        if threshold:
            thresholds = _thresholds(threshold)
            for type_name in thresholds:
                cx.registry.get(type_name)
            changes["thresholds"] = {**bank.thresholds, **thresholds}
        if option:
            changes["options"] = {**bank.options, **_options(option)}
        bank = cx.banks.update_bank(name, **changes)
        if as_json:
            emit_json(bank_json(bank))
        else:
            out_console.print(bank_json(bank))


@app.command("delete")
def delete(ctx: typer.Context, name: str, yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."), as_json: bool = JSON_OPTION) -> None:
    """Delete a bank with all its items and signals."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        cx.banks.get_bank(name)
        if not yes and not as_json and not typer.confirm(f"delete bank {name!r} and all its items?"):
            raise fail("not deleted", code=1)
        cx.banks.delete_bank(name)
        if as_json:
            emit_json({"deleted": name})
        else:
            out_console.print(f"deleted bank {name}")


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    name: str,
    paths: list[Path] = typer.Argument(..., help="Folders of files, JSONL item lists or hash-list CSVs (signal_type,signal,...)."),
    source: Optional[str] = typer.Option(None, "--source", help="Label every imported item with this source."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import items into a bank; rerunning an interrupted import neither duplicates nor loses items."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        cx.banks.get_bank(name)
        totals = {"added": 0, "updated": 0, "unchanged": 0, "errors": 0}
        for path in paths:
            with progress_bar(f"importing {path.name}", enabled=not as_json) as advance:
                report = import_path(cx.settings, cx.banks, cx.registry, name, path, advance, source)
            for error in report.errors:
                if as_json:
                    emit_json({"item": error.item, "error": error.error})
                else:
                    err_console.print(f"[yellow]skipped[/yellow] {error.item}: {error.error}")
            for key in ("added", "updated", "unchanged"):
                totals[key] += getattr(report, key)
            totals["errors"] += len(report.errors)
        cx.indexes.refresh(force=True)
        if as_json:
            emit_json({"bank": name, **totals})
        else:
            out_console.print(
                f"bank {name}: {totals['added']} added, {totals['updated']} updated, {totals['unchanged']} unchanged, {totals['errors']} errors"
            )


@app.command("item")
def item_cmd(
    ctx: typer.Context,
    name: str,
    item_id: str,
    action: str = typer.Argument("show", help="show, enable, disable or delete"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show, enable, disable or delete one bank item."""
    with user_errors(as_json), open_context(ctx.obj) as cx:
        if action == "show":
            item, signals = cx.banks.get_item(name, item_id)
            data = {
                "bank": name,
                "id": item.external_id,
                "labels": item.labels,
                "enabled": item.enabled,
                "kind": item.content_kind,
                "confirmed": item.confirmed_count,
                "rejected": item.rejected_count,
                "signals": [{"type": s.type, "value": s.value, "quality": s.quality, "meta": s.meta} for s in signals],
            }
            emit_json(data) if as_json else out_console.print(data)
            return
        if action in ("enable", "disable"):
            cx.banks.set_item_enabled(name, item_id, action == "enable")
        elif action == "delete":
            cx.banks.delete_item(name, item_id)
        else:
            raise InvalidInput(f"unknown item action {action!r}; use show, enable, disable or delete")
        emit_json({"bank": name, "id": item_id, "done": action}) if as_json else out_console.print(f"{action}d {name}/{item_id}")
