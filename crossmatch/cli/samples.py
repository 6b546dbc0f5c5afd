"""``crossmatch samples DIR``: write the benign demo data set (no real material is ever shipped)."""

from __future__ import annotations

from pathlib import Path

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, out_console
from crossmatch.samples import write_demo_set


def samples_cmd(
    folder: Path = typer.Argument(..., help="Where to write known/ (bank items) and incoming/ (edited copies + unrelated)."),
    known: int = typer.Option(7, "--known", help="How many known posters."),
    unrelated: int = typer.Option(3, "--unrelated", help="How many unrelated images among the incoming ones."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write synthetic sample posters and edited copies for trying crossmatch out."""
    known_dir, incoming_dir = write_demo_set(folder, known, unrelated)
    if as_json:
        emit_json({"known": str(known_dir), "incoming": str(incoming_dir)})
    else:
        out_console.print(f"wrote {known} known posters to {known_dir} and {known + unrelated} uploads to {incoming_dir}")
