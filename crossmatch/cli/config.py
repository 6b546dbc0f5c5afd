"""``crossmatch config show``: the effective settings, as every command and server process sees them."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from crossmatch.cli.output import JSON_OPTION, emit_json, out_console

app = typer.Typer(help="Settings: where they come from and what is in effect.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Print the effective settings (secrets masked) and the TOML file they were read from.

    Order: command-line options, CROSSMATCH_* environment variables (nested with __, e.g.
    CROSSMATCH_TEXT__EMBEDDING_BACKEND), the TOML file (--config, CROSSMATCH_CONFIG or
    <home>/crossmatch.toml), then defaults.
    """
    data = ctx.obj.masked()
    if as_json:
        emit_json(data)
        return
    table = Table("setting", "value", "environment variable", title=f"config file: {data.get('config_file') or 'none'}")
    for name, value in _flatten(data):
        table.add_row(name, json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value,
                      "CROSSMATCH_" + name.upper().replace(".", "__"))
    out_console.print(table)


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        if isinstance(value, dict) and key != "extra":
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows
