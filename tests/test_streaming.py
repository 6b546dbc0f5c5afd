"""Scans stream: results come out while input is still being produced, with bounded work in flight."""

from __future__ import annotations

import itertools

import pytest

from crossmatch.context import open_context
from crossmatch.items import ItemError, iter_contents
from crossmatch.signals.base import Content


def _endless(produced: list[int]):
    for n in itertools.count():
        produced.append(n)
        if n % 7 == 3:
            yield ItemError(f"bad-{n}", "unreadable")
        else:
            yield Content(f"file-{n}", "file", data=f"payload {n}".encode())


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_of_an_endless_stream_yields_in_order_with_bounded_read_ahead(sqlite_settings, workers):
    produced: list[int] = []
    with open_context(sqlite_settings) as ctx:
        results = list(itertools.islice(ctx.engine.scan_many(_endless(produced), workers=workers), 20))
    assert [r.item for r in results][:5] == ["file-0", "file-1", "file-2", "bad-3", "file-4"]
    assert [r.error for r in results if r.item.startswith("bad")] == ["unreadable"] * 3
    # Only a bounded window was read ahead of what was consumed.
    assert len(produced) < 20 + 200


def test_folder_files_are_read_only_when_their_turn_comes(tmp_path):
    for i in range(50):
        (tmp_path / f"{i:03d}.bin").write_bytes(b"before")
    stream = iter_contents([tmp_path])
    assert next(stream).data == b"before"
    (tmp_path / "049.bin").write_bytes(b"after")  # changed after the scan started: read lazily, so seen
    (tmp_path / "048.bin").unlink()
    rest = list(stream)
    assert rest[-1].data == b"after"
    assert isinstance(rest[-2], ItemError) and "cannot read file" in rest[-2].error


def test_missing_media_in_a_folder_scan_is_reported_not_raised(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    out = list(iter_contents([tmp_path, tmp_path / "missing.jpg"]))
    assert isinstance(out[0], Content) and out[0].kind == "image"
    assert isinstance(out[1], ItemError) and out[1].error == "no such file or folder"
