"""What ``hash``, ``scan`` and ``bank import`` read: paths checked up front, and ``-`` for standard input.

A path named on the command line that does not exist or cannot be read stops
the command before any work, with exit code 2 and the path in the message:
a typo must never look like a clean run.  Problems inside a folder or a list
stay per-item error records, and the batch goes on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

import typer

from crossmatch.cli.output import fail, json_error

STDIN = "-"


def check_readable(paths: Iterable[Path], as_json: bool) -> None:
    for path in paths:
        if str(path) == STDIN:
            continue
        problem = None
        if not path.exists():
            problem = "no such file or folder"
        elif not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
            problem = "permission denied"
        if problem:
            message = f"cannot read {path}: {problem}"
            if as_json:
                json_error("UnreadableInput", message, path=str(path))
                raise typer.Exit(2)
            raise fail(f"{message}; check the path (nothing was read)")


def stdin_entries(lines: Iterable[str] | None = None, media_root: Path | None = None) -> Iterator[Any]:
    """Items from standard input, one a line: a JSONL item record, or a path (file or folder).

    Relative paths are relative to the current directory; media paths in records must lie
    under ``media_root`` (default: the current directory).
    """
    from crossmatch.items import ItemError, MediaRoot, item_from_record, iter_contents, parse_record

    media = MediaRoot(media_root or Path.cwd())
    for number, line in enumerate(sys.stdin if lines is None else lines, start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            record = parse_record(text.encode("utf-8", "surrogatepass"), f"stdin:{number}")
            yield record if isinstance(record, ItemError) else item_from_record(record, media, f"stdin:{number}")
        else:
            yield from iter_contents([Path(text)], media if media_root else None)


def iter_inputs(paths: Iterable[Path], media_root: Path | None = None) -> Iterator[Any]:
    """Every item named by ``paths``; ``-`` reads paths or JSONL records from standard input.
    Media named by JSONL records is read only under ``media_root`` (default: each list's folder)."""
    from crossmatch.items import MediaRoot, iter_contents

    for path in paths:
        if str(path) == STDIN:
            yield from stdin_entries(media_root=media_root)
        else:
            yield from iter_contents([path], MediaRoot(media_root) if media_root else None)
