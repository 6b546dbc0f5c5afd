"""Shared CLI output: JSON lines for scripts, Rich tables and progress bars for people."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crossmatch.errors import CrossmatchError

JSON_OPTION = typer.Option(False, "--json", help="Print JSON (one object per line) for scripts.")

# Progress and messages go to stderr so stdout stays clean for --json consumers.
err_console = Console(stderr=True)
out_console = Console()


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(description: str, total: int | None = None, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; ``advance(n)`` moves it."""
    if not enabled or not err_console.is_terminal:
        yield lambda n=1: None
        return
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextmanager
def user_errors(as_json: bool) -> Iterator[None]:
    """Turn domain errors into a clear message (or a JSON error object) and exit code 2."""
    try:
        yield
    except CrossmatchError as exc:
        if as_json:
            emit_json({"error": type(exc).__name__, "detail": str(exc)})
            raise typer.Exit(2) from None
        raise fail(str(exc)) from None
