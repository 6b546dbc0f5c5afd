"""Shared CLI output: JSON lines for scripts, Rich tables and progress bars for people.

Only the standard library and Typer are imported here at start-up: Rich loads
when something is first printed, so ``crossmatch --version`` and ``--help``
stay quick (tests/test_startup.py bounds what they import).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import typer

JSON_OPTION = typer.Option(False, "--json", help="Print JSON (one object per line) for scripts; errors too.")
# Width for tables when the output is not a terminal (a file, a pipe, a test): wide enough that
# nothing is cut; on a terminal Rich uses its real width and long cells wrap instead.
PIPE_WIDTH = 240


class _LazyConsole:
    """A Rich Console made on first use; progress and messages go to stderr so stdout stays clean for --json."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            width = None if stream.isatty() else int(os.environ.get("COLUMNS") or PIPE_WIDTH)
            self._console = Console(stderr=self._stderr, width=width)
        return getattr(self._console, name)


err_console: Any = _LazyConsole(stderr=True)
out_console: Any = _LazyConsole(stderr=False)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def table(*columns: str, title: str | None = None) -> Any:
    """A Rich table whose cells wrap (never cut with an ellipsis) to fit the terminal."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_edge=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    return out


def kv_table(data: dict[str, Any]) -> Any:
    """One record as a two-column table: dicts and lists printed as KEY=VALUE lists, not Python reprs."""
    out = table("field", "value")
    for key, value in data.items():
        out.add_row(key, plain(value))
    return out


def plain(value: Any) -> str:
    """A value as people read it: {'pdq': 24.0} -> pdq=24, [a, b] -> a, b, None -> -."""
    if value is None or value == "" or value == {} or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


@contextmanager
def progress_bar(description: str, total: int | None = None, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; ``advance(n)`` moves it."""
    if not enabled or not err_console.is_terminal:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console._console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def json_error(kind: str, detail: str, **extra: Any) -> None:
    emit_json({"error": kind, "detail": detail, **extra})


@contextmanager
def user_errors(as_json: bool) -> Iterator[None]:
    """Turn domain errors into a clear message (or a JSON error object) and exit code 2."""
    from crossmatch.errors import CrossmatchError

    try:
        yield
    except CrossmatchError as exc:
        if as_json:
            json_error(type(exc).__name__, str(exc))
            raise typer.Exit(2) from None
        raise fail(str(exc)) from None


@contextmanager
def opened(ctx: typer.Context, as_json: bool) -> Iterator[Any]:
    """The store, services and engine for one command, with domain errors reported as ``user_errors`` does.

    Imported here, not at start-up: only the commands that need a database pay for SQLAlchemy and the signal types.
    """
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        yield cx
