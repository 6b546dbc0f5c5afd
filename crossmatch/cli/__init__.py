"""The ``crossmatch`` command: Typer sub-apps over the same services as the API.

Start-up is kept short: command modules import only Typer and the standard
library at the top; each command imports the services, the store and the
signal types it needs when it runs (tests/test_startup.py bounds this).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from crossmatch.cli import banks as banks_cli
from crossmatch.cli import exchange as exchange_cli
from crossmatch.cli import flood as flood_cli
from crossmatch.cli import scan as scan_cli
from crossmatch.cli import serve as serve_cli
from crossmatch.cli import webhooks as webhooks_cli
from crossmatch.cli import outlets as outlets_cli
from crossmatch.cli.maintenance import purge_cmd
from crossmatch.cli.samples import samples_cmd
from crossmatch.cli.backfill import backfill_cmd
from crossmatch.cli import config as config_cli
from crossmatch.cli import index as index_cli
from crossmatch.cli.output import fail

app = typer.Typer(
    help="crossmatch: recognise known violent-extremist content across edits, formats and languages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"crossmatch {version('crossmatch')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, "--home", metavar="DIR", envvar="CROSSMATCH_HOME", help="Data directory (default ~/.crossmatch)."),
    database_url: Optional[str] = typer.Option(
        None, "--database-url", metavar="URL", envvar="CROSSMATCH_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://host/db; default SQLite in the data directory."
    ),
    workers: Optional[int] = typer.Option(None, "--workers", metavar="N", help="Hashing processes (default: all cores)."),
    config: Optional[Path] = typer.Option(
        None, "--config", metavar="FILE", envvar="CROSSMATCH_CONFIG",
        help="TOML settings file (default: crossmatch.toml in the data directory)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    from crossmatch.settings import Settings, SettingsError

    overrides = {"workers": workers} if workers else {}
    try:
        ctx.obj = Settings.load(home=home, database_url=database_url, config=config, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


# Sub-command groups and commands, in help order.  Each module registers its own commands.
app.add_typer(banks_cli.app, name="bank")
app.add_typer(exchange_cli.app, name="exchange")
app.add_typer(config_cli.app, name="config")
app.add_typer(index_cli.app, name="index")
scan_cli.register(app)
serve_cli.register(app)
app.add_typer(webhooks_cli.app, name="webhook")
app.add_typer(outlets_cli.app, name="outlets")
app.add_typer(flood_cli.app, name="flood")
app.command("backfill")(backfill_cmd)
app.command("samples")(samples_cmd)
app.command("purge")(purge_cmd)


def tidy_help(command: Any) -> Any:
    """Plain help for every command: NAME and [NAME] in usage lines (not Typer's ``{name}``), no ``<str>``
    or ``<bool>`` type tags where a metavar already says what to give."""
    help_option = command.get_help_option(typer.Context(command))  # made (and cached) on first use by click
    for param in [*getattr(command, "params", []), *([help_option] if help_option else [])]:
        if param.param_type_name == "argument":
            param.metavar = param.metavar or (param.name or "value").upper()
            param.display_type_rich = lambda ctx: None
            param._usage_display_name = _usage_name(param)
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = param.metavar or ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
    return command


def _usage_name(param: Any) -> Any:
    name = param.metavar if param.required or param.metavar.startswith("[") else f"[{param.metavar}]"
    return lambda: name + ("..." if param.nargs != 1 else "")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; with ``--json`` every error, usage errors included, is a JSON record on stdout."""
    from crossmatch.cli.output import json_error

    args = sys.argv[1:] if argv is None else list(argv)
    command = tidy_help(typer.main.get_command(app))
    if "--json" not in args:
        command.main(args, prog_name="crossmatch")
        return
    try:
        code = command.main(args, prog_name="crossmatch", standalone_mode=False)
    except typer.Abort:
        json_error("Aborted", "aborted")
        sys.exit(1)
    except Exception as exc:
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):  # Click's usage errors
            json_error(type(exc).__name__, exc.format_message())
            sys.exit(exc.exit_code)
        import traceback  # a bug: still one JSON record, and the traceback on stderr for the report

        traceback.print_exc()
        json_error("InternalError", f"{type(exc).__name__}: {exc}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
