"""``crossmatch bank ...``: create, list, show, change, delete and import banks and items."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from crossmatch.cli.inputs import STDIN, check_readable, stdin_entries
from crossmatch.cli.output import (JSON_OPTION, emit_json, err_console, fail, kv_table, opened, out_console, plain,
                                   progress_bar, table)

app = typer.Typer(help="Banks of known items (block) and known-benign items (allow).", no_args_is_help=True)
NAME = typer.Argument(..., metavar="BANK", help="The bank's name.")


def bank_json(bank: Any, stats: dict | None = None) -> dict:
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


def _invalid(message: str) -> Exception:
    from crossmatch.errors import InvalidInput

    return InvalidInput(message)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise _invalid(f"{what} {value!r} must look like KEY=VALUE")
        out[key.strip()] = val.strip()
    return out


def _thresholds(values: list[str], registry: Any) -> dict[str, float]:
    out = {}
    for key, val in _pairs(values, "--threshold").items():
        registry.get(key)  # unknown types are refused with the list of known ones
        try:
            out[key] = float(val)
        except ValueError:
            raise _invalid(f"--threshold {key}={val!r}: the threshold must be a number") from None
    return out


def _options(values: list[str]) -> dict[str, object]:
    return {key: {"true": True, "false": False}.get(val.lower(), val) for key, val in _pairs(values, "--option").items()}


def _rule(exc: Exception) -> str:
    """A validation error's own words (the rule), without pydantic's boilerplate and URL."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in errors())
    return str(exc)


def _thresholds_text(thresholds: dict) -> str:
    return plain(thresholds) if thresholds else "defaults"


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = NAME,
    kind: str = typer.Option("block", "--kind", metavar="block|allow", help="block (known bad) or allow (known benign, suppresses matches)."),
    description: str = typer.Option("", "--description", metavar="TEXT", help="What the bank holds, for people."),
    label: list[str] = typer.Option([], "--label", metavar="KEY=VALUE", help="Bank label (repeatable), e.g. source=gifct."),
    threshold: list[str] = typer.Option([], "--threshold", metavar="TYPE=VALUE", help="Per-signal-type threshold (repeatable), e.g. pdq=31."),
    option: list[str] = typer.Option([], "--option", metavar="KEY=VALUE", help="Bank option (repeatable), e.g. ocr=false."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a bank."""
    from crossmatch.banks.schemas import BankSpec

    with opened(ctx, as_json) as cx:
        if kind not in ("block", "allow"):
            raise _invalid(f"--kind must be block or allow, not {kind!r}")
        thresholds = _thresholds(threshold, cx.registry)
        try:
            spec = BankSpec(name=name, kind=kind, description=description, labels=_pairs(label, "--label"), thresholds=thresholds, options=_options(option))
        except ValueError as exc:
            raise _invalid(_rule(exc)) from None
        bank = cx.banks.create_bank(spec)
        if as_json:
            emit_json(bank_json(bank))
        else:
            out_console.print(f"created {bank.kind} bank [bold]{bank.name}[/bold]; fill it with `crossmatch bank import {bank.name} PATH`",
                              highlight=False)


@app.command("list")
def list_banks(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List banks with their item and signal counts."""

    with opened(ctx, as_json) as cx:
        banks = cx.banks.list_banks()
        if as_json:
            for bank in banks:
                emit_json(bank_json(bank, cx.banks.bank_stats(bank.id)))
            return
        if not banks:
            out_console.print("no banks yet: create one with `crossmatch bank create NAME`")
            return
        shown = table("name", "kind", "enabled", "items", "signals", "thresholds")
        for bank in banks:
            stats = cx.banks.bank_stats(bank.id)
            signals = ", ".join(f"{t} {n}" for t, n in sorted(stats["signals"].items()))
            shown.add_row(bank.name, bank.kind, plain(bank.enabled), str(stats["items"]), signals or "-", _thresholds_text(bank.thresholds))
        out_console.print(shown)


def _item_row(r: Any) -> dict:
    return {"id": r.external_id, "labels": r.labels, "enabled": r.enabled, "kind": r.content_kind,
            "confirmed": r.confirmed_count, "rejected": r.rejected_count}


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = NAME,
    items: int = typer.Option(20, "--items", metavar="N", help="How many items to list."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a bank, its settings and its first items."""

    with opened(ctx, as_json) as cx:
        bank = cx.banks.get_bank(name)
        stats = cx.banks.bank_stats(bank.id)
        item_json = [_item_row(r) for r in cx.banks.list_items(name, limit=items)]
        if as_json:
            emit_json({**bank_json(bank, stats), "first_items": item_json})
            return
        _print_bank(bank, stats)
        if not item_json:
            out_console.print(f"no items yet: `crossmatch bank import {name} PATH`")
            return
        shown = table("item", "kind", "enabled", "labels", "confirmed", "rejected", title=f"first {len(item_json)} of {stats['items']} items")
        for r in item_json:
            shown.add_row(r["id"], plain(r["kind"]), plain(r["enabled"]), plain(r["labels"]), str(r["confirmed"]), str(r["rejected"]))
        out_console.print(shown)


def _print_bank(bank: Any, stats: dict | None = None) -> None:
    data = bank_json(bank)
    data["thresholds"] = _thresholds_text(bank.thresholds)
    if stats is not None:
        data["items"] = stats["items"]
        data["signals"] = ", ".join(f"{t} {n}" for t, n in sorted(stats["signals"].items())) or "-"
    out_console.print(kv_table(data))


@app.command("set")
def set_bank(
    ctx: typer.Context,
    name: str = NAME,
    enabled: Optional[bool] = typer.Option(None, "--enabled/--disabled", help="Enable or disable matching against the bank."),
    threshold: list[str] = typer.Option([], "--threshold", metavar="TYPE=VALUE", help="Per-signal-type threshold (repeatable)."),
    option: list[str] = typer.Option([], "--option", metavar="KEY=VALUE", help="Bank option (repeatable)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a bank: enable/disable it, set thresholds or options."""

    with opened(ctx, as_json) as cx:
        bank = cx.banks.get_bank(name)
        changes: dict = {}
        if enabled is not None:
            changes["enabled"] = enabled
        if threshold:
            changes["thresholds"] = {**bank.thresholds, **_thresholds(threshold, cx.registry)}
        if option:
            changes["options"] = {**bank.options, **_options(option)}
        if not changes:
            raise _invalid("nothing to change: give --enabled/--disabled, --threshold TYPE=VALUE or --option KEY=VALUE")
        bank = cx.banks.update_bank(name, **changes)
        if as_json:
            emit_json(bank_json(bank))
            return
        out_console.print(f"changed bank [bold]{name}[/bold]: {', '.join(sorted(changes))}", highlight=False)
        _print_bank(bank)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = NAME,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a bank with all its items and signals."""

    with opened(ctx, as_json) as cx:
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
    name: str = NAME,
    paths: list[Path] = typer.Argument(..., metavar="PATH", help="Folders of files, JSONL item lists, hash-list CSVs "
                                       "(signal_type,signal,...), STIX 2.1 bundles (.json); - reads paths or JSONL records from standard input."),
    source: Optional[str] = typer.Option(None, "--source", metavar="NAME", help="Label every imported item with this source."),
    media_root: Optional[Path] = typer.Option(None, "--media-root", metavar="DIR", help="Read JSONL \"media\" paths only as "
                                              "regular files under DIR (default: limits.import_media_root, else each list's folder)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import items into a bank; rerunning an interrupted import neither duplicates nor loses items.

    Bad items are reported and skipped (exit 0); a named path that cannot be read, or read as any
    import format, exits 2.
    """
    from crossmatch.banks.importers import ImportReport, import_entries, import_path
    from crossmatch.items import MediaRoot

    check_readable(paths, as_json)
    with opened(ctx, as_json) as cx:
        root = media_root or cx.settings.limits.import_media_root
        media = MediaRoot(root) if root else None
        cx.banks.get_bank(name)
        totals = {"added": 0, "updated": 0, "unchanged": 0, "errors": 0}
        refused = []
        for path in paths:
            label = "standard input" if str(path) == STDIN else path.name
            with progress_bar(f"importing {label}", enabled=not as_json) as advance:
                if str(path) == STDIN:
                    report = import_entries(cx.settings, cx.banks, cx.registry, name, stdin_entries(media_root=root), ImportReport(), advance, source)
                else:
                    report = import_path(cx.settings, cx.banks, cx.registry, name, path, advance, source, media=media)
            for error in report.errors:
                if as_json:
                    emit_json({"item": error.item, "error": error.error})
                else:
                    err_console.print(f"[yellow]skipped[/yellow] {error.item}: {error.error}", highlight=False)
            for key in ("added", "updated", "unchanged"):
                totals[key] += getattr(report, key)
            totals["errors"] += len(report.errors)
            refused += [str(path) for e in report.errors if e.item == str(path)]
        cx.indexes.refresh(force=True)
        if as_json:
            emit_json({"bank": name, **totals})
        else:
            out_console.print(
                f"bank {name}: {totals['added']} added, {totals['updated']} updated, {totals['unchanged']} unchanged, {totals['errors']} errors"
            )
    if refused:
        raise typer.Exit(2)


@app.command("item")
def item_cmd(
    ctx: typer.Context,
    name: str = NAME,
    item_id: str = typer.Argument(..., metavar="ITEM", help="The item's id (see `crossmatch bank show BANK`)."),
    action: str = typer.Argument("show", metavar="[show|enable|disable|delete]", help="What to do with the item (default: show)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show, enable, disable or delete one bank item."""

    with opened(ctx, as_json) as cx:
        if action == "show":
            item, signals = cx.banks.get_item(name, item_id)
            data = {"bank": name, **_item_row(item),
                    "signals": [{"type": s.type, "value": s.value, "quality": s.quality, "meta": s.meta} for s in signals]}
            if as_json:
                emit_json(data)
                return
            out_console.print(kv_table({k: v for k, v in data.items() if k != "signals"}))
            shown = table("signal", "value", "quality")
            for s in signals:
                value = s.value if len(s.value) <= 80 else f"{s.value[:80]}… (--json for all)"
                shown.add_row(s.type, value, plain(s.quality))
            out_console.print(shown)
            return
        if action in ("enable", "disable"):
            cx.banks.set_item_enabled(name, item_id, action == "enable")
        elif action == "delete":
            cx.banks.delete_item(name, item_id)
        else:
            raise _invalid(f"unknown item action {action!r}; use show, enable, disable or delete")
        if as_json:
            emit_json({"bank": name, "id": item_id, "done": action})
        else:
            out_console.print(f"{action}d {name}/{item_id}", highlight=False)
