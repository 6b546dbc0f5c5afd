"""The ``crossmatch`` command: Typer sub-apps over the same services as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from crossmatch.cli import banks as banks_cli
from crossmatch.cli import exchange as exchange_cli
from crossmatch.cli import scan as scan_cli
from crossmatch.cli import serve as serve_cli
from crossmatch.cli.maintenance import purge_cmd
from crossmatch.cli.samples import samples_cmd
from crossmatch.cli import config as config_cli
from crossmatch.cli import index as index_cli
from crossmatch.cli.output import fail
from crossmatch.settings import Settings, SettingsError

app = typer.Typer(
    help="crossmatch: recognise known violent-extremist content across edits, formats and languages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, "--home", envvar="CROSSMATCH_HOME", help="Data directory (default ~/.crossmatch)."),
    database_url: Optional[str] = typer.Option(
        None, "--database-url", envvar="CROSSMATCH_DATABASE_URL", help="SQLAlchemy URL, e.g. postgresql+psycopg://host/db; default SQLite in the data directory."
    ),
    workers: Optional[int] = typer.Option(None, "--workers", help="Hashing processes (default: all cores)."),
    config: Optional[Path] = typer.Option(
        None, "--config", envvar="CROSSMATCH_CONFIG", help="TOML settings file (default: crossmatch.toml in the data directory)."),
) -> None:
    overrides = {"workers": workers} if workers else {}
    try:
        ctx.obj = Settings.load(home=home, database_url=database_url, config=config, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


app.add_typer(banks_cli.app, name="bank")
app.add_typer(exchange_cli.app, name="exchange")
app.add_typer(config_cli.app, name="config")
app.add_typer(index_cli.app, name="index")
scan_cli.register(app)
serve_cli.register(app)
app.command("samples")(samples_cmd)
app.command("purge")(purge_cmd)


def main() -> None:
    app()
