"""``crossmatch samples [DIR]``: write the benign demo data set (no real material is ever shipped)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, fail, json_error, out_console


def samples_cmd(
    ctx: typer.Context,
    folder: Optional[Path] = typer.Argument(None, metavar="[DIR]", help="Where to write the samples (default: samples/ in the data "
                                            "directory, ~/.crossmatch/samples). Keep it outside a git checkout."),
    known: int = typer.Option(7, "--known", metavar="N", help="How many known posters."),
    unrelated: int = typer.Option(3, "--unrelated", metavar="N", help="How many unrelated images among the incoming ones."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write benign sample data to try crossmatch on: generated posters and edited copies, short texts, two videos, a hash list.

    known/ and incoming/ hold the posters and their edits (resized, re-encoded, greyscale, flipped, rotated, captioned,
    letterboxed) mixed with unrelated images; texts/ Arabic bank items and translated, excerpted and disguised posts;
    videos/ a known clip and a re-cut, subtitled excerpt; hashlist.csv the known posters as a partner would share them.
    """
    from crossmatch.samples import write_demo_set, write_hash_list, write_text_samples, write_video_samples

    folder = (folder or ctx.obj.home / "samples").expanduser().resolve()
    try:
        known_dir, incoming_dir = write_demo_set(folder, known, unrelated)
        text_bank, text_incoming = write_text_samples(folder / "texts")
        video_known, video_incoming = write_video_samples(folder / "videos")
        hash_list = write_hash_list(known_dir, folder / "hashlist.csv")
    except OSError as exc:
        message = f"cannot write samples to {folder}: {exc.strerror or exc}; pick a folder you can write to"
        if as_json:
            json_error("UnwritableOutput", message, path=str(folder))
            raise typer.Exit(2) from None
        raise fail(message) from None
    if as_json:
        emit_json({"folder": str(folder), "known": str(known_dir), "incoming": str(incoming_dir), "text_bank": str(text_bank),
                   "text_incoming": str(text_incoming), "video_known": str(video_known), "video_incoming": str(video_incoming),
                   "hash_list": str(hash_list)})
        return
    out_console.print(f"wrote samples to {folder}:", highlight=False)
    out_console.print(f"  known/      {known} known posters (stand-ins for known material)", highlight=False)
    out_console.print(f"  incoming/   {known + unrelated} uploads: edited copies of the known posters and {unrelated} unrelated images", highlight=False)
    out_console.print("  texts/      demo_texts_bank.jsonl (Arabic) and demo_texts_incoming.jsonl (translations, an excerpt, a disguise)", highlight=False)
    out_console.print("  videos/     known/clip_00.mp4 and incoming/ (a re-cut subtitled excerpt, an unrelated clip)", highlight=False)
    out_console.print("  hashlist.csv  the known posters' PDQ and MD5 hashes, as a partner shares them", highlight=False)
