"""``crossmatch samples DIR``: write the benign demo data set (no real material is ever shipped)."""

from __future__ import annotations

from pathlib import Path

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, out_console
from crossmatch.samples import write_demo_set, write_text_samples, write_video_samples


def samples_cmd(
    folder: Path = typer.Argument(..., help="Where to write known/ (bank items) and incoming/ (edited copies + unrelated)."),
    known: int = typer.Option(7, "--known", help="How many known posters."),
    unrelated: int = typer.Option(3, "--unrelated", help="How many unrelated images among the incoming ones."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write benign sample data (generated posters and edits, and short texts) for trying crossmatch out."""
    known_dir, incoming_dir = write_demo_set(folder, known, unrelated)
    text_bank, text_incoming = write_text_samples(folder / "texts")
    video_known, video_incoming = write_video_samples(folder / "videos")
    if as_json:
        emit_json({"known": str(known_dir), "incoming": str(incoming_dir), "text_bank": str(text_bank),
                   "text_incoming": str(text_incoming), "video_known": str(video_known), "video_incoming": str(video_incoming)})
    else:
        out_console.print(f"wrote {known} known posters to {known_dir} and {known + unrelated} uploads to {incoming_dir}")
        out_console.print(f"wrote text samples to {text_bank} and {text_incoming}")
        out_console.print(f"wrote video samples to {video_known} and {video_incoming}")
