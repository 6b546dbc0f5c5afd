"""Backfill on Ray Data (local Ray, 2 CPUs) and the re-scan of stored signals, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the scale extra is not installed (pip install 'crossmatch[scale]')")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from crossmatch.cli import app  # noqa: E402
from crossmatch.samples import EDITS, make_poster, to_bytes  # noqa: E402
from crossmatch.scale.sources import content_of, list_rows, partitions  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _cli(home: Path, *args: str) -> dict:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"], env={"CROSSMATCH_SCALE__BACKFILL_PARTITION_ITEMS": "3"})
    assert result.exit_code == 0, result.output
    return json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])


def _folder(root: Path, known: int, planted: int, other: int) -> tuple[Path, Path]:
    """``known/``: bank posters; ``uploads/``: edited copies of the first ``planted`` plus unrelated posters and one bad file."""
    known_dir, uploads = root / "known", root / "uploads"
    known_dir.mkdir(parents=True)
    uploads.mkdir(parents=True)
    for i in range(known):
        poster = make_poster(300 + i)
        (known_dir / f"poster_{i:02d}.jpg").write_bytes(to_bytes(poster))
        if i < planted:
            (uploads / f"copy_{i:02d}.jpg").write_bytes(to_bytes(EDITS["resized"](poster)))
    for j in range(other):
        (uploads / f"other_{j:02d}.jpg").write_bytes(to_bytes(make_poster(900 + j)))
    (uploads / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return known_dir, uploads


def _cases(home: Path) -> list:
    from crossmatch.context import open_context
    from crossmatch.review.models import Case
    from crossmatch.settings import Settings
    from sqlalchemy import select

    with open_context(Settings.load(home=home, workers=1)) as cx, cx.sessions() as session:
        return list(session.scalars(select(Case)))


@pytest.mark.slow
def test_backfill_writes_parquet_opens_cases_and_resumes_after_a_crash(tmp_path, ray_cluster, monkeypatch):
    home = tmp_path / "home"
    known, uploads = _folder(tmp_path, known=4, planted=3, other=4)
    _cli(home, "bank", "create", "known")
    _cli(home, "bank", "import", "known", str(known))

    # A crash while recording the second partition: its cases roll back with its "finished" row.
    from crossmatch.scale import record

    real = record.Recorder.record
    calls = {"n": 0}

    def crash_on_second(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(record.Recorder, "record", crash_on_second)
    crashed = runner.invoke(app, ["--home", str(home), "backfill", str(uploads), "--out", str(tmp_path / "out"), "--no-deep", "--json"],
                            env={"CROSSMATCH_SCALE__BACKFILL_PARTITION_ITEMS": "3"})
    assert crashed.exit_code != 0
    monkeypatch.setattr(record.Recorder, "record", real)

    report = _cli(home, "backfill", str(uploads), "--out", str(tmp_path / "out"), "--no-deep")
    assert report["partitions"] == 3 and report["skipped"] == 1  # 8 uploads in partitions of 3; the first survived the crash
    again = _cli(home, "backfill", str(uploads), "--out", str(tmp_path / "out"), "--no-deep")
    assert again["skipped"] == 3 and again["items"] == 0

    items = pq.read_table(tmp_path / "out" / "items").to_pylist()
    assert sorted(r["item"].rsplit("/", 1)[1] for r in items) == sorted(p.name for p in uploads.iterdir())
    broken = next(r for r in items if r["item"].endswith("broken.jpg"))
    assert broken["error"] and not broken["complete"]  # fail closed: a bad file is never clean
    matches = pq.read_table(tmp_path / "out" / "matches").to_pylist()
    assert sorted({Path(m["item"]).name for m in matches}) == ["copy_00.jpg", "copy_01.jpg", "copy_02.jpg"]
    signals = pq.read_table(tmp_path / "out" / "signals").to_pylist()
    assert {s["type"] for s in signals} >= {"pdq", "md5"}
    # The bank's policy (review, the default) opened one case per matched upload, none twice.
    cases = _cases(home)
    assert len(cases) == 3


@pytest.mark.slow
def test_rescan_finds_old_uploads_for_new_bank_items_without_hashing(tmp_path, ray_cluster):
    home = tmp_path / "home"
    known, uploads = _folder(tmp_path, known=5, planted=5, other=2)
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    for path in sorted(known.iterdir()):
        (first if path.name < "poster_02" else later).joinpath(path.name).write_bytes(path.read_bytes())
    _cli(home, "bank", "create", "known")
    _cli(home, "bank", "import", "known", str(first))
    out = tmp_path / "out"
    assert _cli(home, "backfill", str(uploads), "--out", str(out), "--no-deep")["matched"] == 2
    seq = _latest_change(home)

    _cli(home, "bank", "import", "known", str(later))  # a partner shares three more hashes
    (uploads / "copy_03.jpg").unlink()  # the content is gone: the re-scan reads only the stored signals
    report = _cli(home, "backfill", "--since-signals", str(seq), "--out", str(out))
    assert report["matched"] == 3 and report["new_signals"] > 0
    found = pq.read_table(out / f"rescan-{seq}" / "matches").to_pylist()
    assert sorted({Path(m["item"]).name for m in found}) == ["copy_02.jpg", "copy_03.jpg", "copy_04.jpg"]
    assert {m["bank_item"] for m in found} == {"poster_02.jpg", "poster_03.jpg", "poster_04.jpg"}
    again = _cli(home, "backfill", "--since-signals", str(seq), "--out", str(out))
    assert again["skipped"] and len(_cases(home)) == 2 + 3


def test_sources_list_folders_jsonl_and_parquet_in_a_stable_order(tmp_path):
    (tmp_path / "a.txt").write_text("first post")
    (tmp_path / "b.jpg").write_bytes(to_bytes(make_poster(1)))
    listing = tmp_path / "list.jsonl"
    listing.write_text('{"id": "p1", "text": "hello"}\nnot json\n{"id": "p2", "media": "b.jpg"}\n')
    parquet = tmp_path / "list.parquet"
    pq.write_table(pa.table({"path": ["b.jpg", "missing.jpg"], "id": ["img-1", "img-2"]}), parquet)

    folder = [content_of(r) for r in list_rows(tmp_path)]
    assert [c.item.rsplit("/", 1)[1] for c in folder][:2] == ["a.txt", "b.jpg"]
    jsonl = [content_of(r) for r in list_rows(listing)]
    assert [getattr(c, "item") for c in jsonl] == ["p1", f"{listing}:2", "p2"]
    assert "not valid JSON" in jsonl[1].error and jsonl[2].kind == "image"
    rows = [content_of(r) for r in list_rows(parquet)]
    assert rows[0].item == "img-1" and rows[0].kind == "image" and "cannot read" in rows[1].error
    assert [len(p) for p in partitions(iter(range(7)), 3)] == [3, 3, 1]


def _latest_change(home: Path) -> int:
    from crossmatch.context import open_context
    from crossmatch.settings import Settings

    with open_context(Settings.load(home=home, workers=1)) as cx:
        return cx.banks.latest_change()
