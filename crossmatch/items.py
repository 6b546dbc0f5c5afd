"""Turn paths (files, folders, JSONL item lists) into a stream of Content.

Everything streams: a folder of 100,000 files is walked lazily and each file is
read only when its turn comes, so memory stays bounded.  Problems with one item
become an :class:`ItemError` in the stream, never an exception that stops the batch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from crossmatch.signals.base import Content, ContentKind

# Read at most this much of one file; bigger files are reported, not loaded.
MAX_FILE_BYTES = 512 * 1024 * 1024

_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_TEXT_SUFFIXES = {".txt", ".md", ".text"}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic"}
_VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".flv", ".3gp", ".ts"}


@dataclass(frozen=True)
class ItemError:
    item: str
    error: str


def sniff_kind(data: bytes, name: str = "") -> ContentKind:
    """Content kind from magic bytes first, the file name second."""
    head = data[:16]
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "image" if brand in (b"heic", b"heix", b"avif", b"mif1") else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "video"
    suffix = Path(name).suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        return "text"
    # A name says image/video but the bytes do not: let the hasher report it as corrupt.
    if suffix in _IMAGE_SUFFIXES:
        return "image"
    if suffix in _VIDEO_SUFFIXES:
        return "video"
    return "file"


def content_from_file(path: Path, item: str | None = None, labels: dict[str, Any] | None = None) -> Content | ItemError:
    name = item or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return ItemError(name, f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        return ItemError(name, f"cannot read file: {exc.strerror or exc}")
    kind = sniff_kind(data, path.name)
    if kind == "text":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return ItemError(name, f"text file is not valid UTF-8 (byte {exc.start}); re-encode it as UTF-8")
        return Content(name, "text", data=data, text=text, path=path, labels=labels or {})
    return Content(name, kind, data=data, path=path, labels=labels or {})


def walk_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` in a stable order, lazily (one directory listing at a time)."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
        stack.extend(reversed(subdirs))


def iter_jsonl(path: Path) -> Iterator[Content | ItemError]:
    """Items ``{"id", "media"?, "text"?, "url"?, "labels"?}``; media paths are relative to the file."""
    base = path.parent
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield ItemError(where, f"line is not valid UTF-8 (byte {exc.start}); re-encode the file as UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield ItemError(where, f"line is not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            yield item_from_record(record, base, where)


def item_from_record(record: Any, base: Path, where: str) -> Content | ItemError:
    if not isinstance(record, dict):
        return ItemError(where, "each JSONL line must be an object with an \"id\"")
    item_id = record.get("id")
    if item_id in (None, ""):
        return ItemError(where, "item has no \"id\"")
    item_id = str(item_id)
    labels = record.get("labels") or {}
    if not isinstance(labels, dict):
        return ItemError(item_id, "\"labels\" must be an object")
    media, text, url = record.get("media"), record.get("text"), record.get("url")
    if media:
        media_path = (base / str(media)).resolve()
        content = content_from_file(media_path, item_id, labels)
        if isinstance(content, Content):
            content.text = text if isinstance(text, str) else content.text
            content.url = url
        return content
    if isinstance(text, str):
        return Content(item_id, "text", text=text, url=url, labels=labels)
    if isinstance(url, str):
        return Content(item_id, "url", url=url, labels=labels)
    return ItemError(item_id, "item has none of \"media\", \"text\" or \"url\"")


def iter_contents(paths: list[Path]) -> Iterator[Content | ItemError]:
    """Every item named by ``paths``: files, folders (recursively) and .jsonl item lists."""
    for path in paths:
        if path.is_dir():
            for file in walk_files(path):
                yield content_from_file(file)
        elif path.suffix.lower() == ".jsonl" and path.is_file():
            yield from iter_jsonl(path)
        elif path.exists():
            yield content_from_file(path)
        else:
            yield ItemError(str(path), "no such file or folder")
