"""Turn paths (files, folders, JSONL item lists) into a stream of Content.

Everything streams: a folder of 100,000 files is walked lazily and each file is
read only when its turn comes, so memory stays bounded.  Problems with one item
become an :class:`ItemError` in the stream, never an exception that stops the batch.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from crossmatch.signals.base import Content, ContentKind

# Read at most this much of one file; bigger files are reported, not loaded.
MAX_FILE_BYTES = 512 * 1024 * 1024
# One JSONL record: longer lines are a per-line error (a text item's own limit is far below this).
MAX_LINE_BYTES = 64 * 1024 * 1024
# JSON nesting a record may have: item records are two levels deep; json.loads recurses per level.
MAX_JSON_DEPTH = 64

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


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else OSError.

    The type is checked on the open descriptor (no race with a swapped path), and devices,
    FIFOs and sockets are refused before any read: ``/dev/zero`` would never end.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (devices, pipes and sockets are never read)")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"file is {info.st_size} bytes, over the {limit}-byte limit")
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise OSError(errno.EFBIG, f"file is over the {limit}-byte limit")
    return data


def content_from_file(path: Path, item: str | None = None, labels: dict[str, Any] | None = None) -> Content | ItemError:
    name = item or str(path)
    try:
        data = read_regular_file(path)
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


class MediaRoot:
    """Where ``"media"`` paths of item records may be read from: regular files under ``root`` only.

    ``MediaRoot(None)`` reads nothing: records uploaded over HTTP are refused if they name media,
    so an upload can never make the server read its own disk (``/etc/passwd``, ``/dev/zero``).
    """

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root).resolve() if root is not None else None

    def read(self, media: str, item_id: str, labels: dict[str, Any]) -> Content | ItemError:
        if self.root is None:
            return ItemError(item_id, "uploaded items may carry only text or url, never \"media\" (a server path); "
                                      "import media with `crossmatch bank import` on the server")
        path = (self.root / media).resolve()  # symlinks and ".." resolved before the check
        if not path.is_relative_to(self.root):
            return ItemError(item_id, f"media path {media[:200]!r} is outside the import root {self.root}; "
                                      "move the file under it or pass --media-root")
        return content_from_file(path, item_id, labels)


NO_MEDIA = MediaRoot(None)  # what HTTP uploads get


def iter_records(handle: IO[bytes], name: str) -> Iterator[tuple[str, Any]]:
    """(where, record or ItemError) for each non-blank line of a JSONL stream.

    The one JSONL parser: the HTTP upload guard and the importer both read through it, so they
    always agree on what a record is.  Lines end at LF only (a bare CR is JSON whitespace inside a
    record); a line over ``MAX_LINE_BYTES`` or nested deeper than ``MAX_JSON_DEPTH`` is a per-line error.
    """
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        where = f"{name}:{number}"
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the over-long line
                raw = handle.readline(MAX_LINE_BYTES + 1)
            yield where, ItemError(where, f"line is over {MAX_LINE_BYTES} bytes; split the item or shorten its text")
            continue
        if not raw.strip():
            continue
        yield where, parse_record(raw, where)


def parse_record(raw: bytes, where: str) -> Any:
    """One JSON record, or an ItemError naming the line and the reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ItemError(where, f"line is not valid UTF-8 (byte {exc.start}); re-encode the file as UTF-8")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return ItemError(where, f"line nests JSON {depth} levels deep, over the limit of {MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return ItemError(where, f"line is not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return ItemError(where, "line nests JSON too deeply")


def json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without parsing it:
    ``json.loads`` recurses once per level and a deep line would blow the stack."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: skip the character walk
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def iter_jsonl(path: Path, media: MediaRoot | None = None) -> Iterator[Content | ItemError]:
    """Items ``{"id", "media"?, "text"?, "url"?, "labels"?}``; media paths are read through ``media``
    (default: regular files under the JSONL file's own folder)."""
    media = media if media is not None else MediaRoot(path.parent)
    with path.open("rb") as handle:
        for where, record in iter_records(handle, str(path)):
            yield record if isinstance(record, ItemError) else item_from_record(record, media, where)


def item_from_record(record: Any, media: MediaRoot, where: str) -> Content | ItemError:
    if not isinstance(record, dict):
        return ItemError(where, "each JSONL line must be an object with an \"id\"")
    item_id = record.get("id")
    if item_id in (None, ""):
        return ItemError(where, "item has no \"id\"")
    item_id = str(item_id)
    labels = record.get("labels") or {}
    if not isinstance(labels, dict):
        return ItemError(item_id, "\"labels\" must be an object")
    media_name, text, url = record.get("media"), record.get("text"), record.get("url")
    if media_name:
        content = media.read(str(media_name), item_id, labels)
        if isinstance(content, Content):
            content.text = text if isinstance(text, str) else content.text
            content.url = url
        return content
    if isinstance(text, str):
        return Content(item_id, "text", text=text, url=url, labels=labels)
    if isinstance(url, str):
        return Content(item_id, "url", url=url, labels=labels)
    return ItemError(item_id, "item has none of \"media\", \"text\" or \"url\"")


def iter_contents(paths: list[Path], media: MediaRoot | None = None) -> Iterator[Content | ItemError]:
    """Every item named by ``paths``: files, folders (recursively) and .jsonl item lists
    (their media read through ``media``, default: under each list's own folder)."""
    for path in paths:
        if path.is_dir():
            for file in walk_files(path):
                yield content_from_file(file)
        elif path.suffix.lower() == ".jsonl" and path.is_file():
            yield from iter_jsonl(path, media)
        elif path.exists():
            yield content_from_file(path)
        else:
            yield ItemError(str(path), "no such file or folder")
