"""Submission worker robustness on SQLite and PostgreSQL (issue 15, findings 14 and 16).

- Over-long fields are refused with a clear InvalidInput, and no spool file is left behind on any failure.
- A worker killed mid-scan holds a short lease: another worker retakes the submission within a minute.
- A live worker renews its lease while a long scan runs, so nobody else takes the submission meanwhile.
- A worker that lost its lease records nothing: the case and actions are rolled back with its result.
"""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from crossmatch.api import submissions as submissions_module
from crossmatch.api.submissions import Submission
from crossmatch.context import open_context
from crossmatch.engine import Engine
from crossmatch.errors import InvalidInput
from crossmatch.signals.base import Content
from test_api_support import api  # noqa: F401  (fixture)
from workflow_support import KNOWN_URL, counts, known_bank, run_and_kill, services, submit_known, workflow_settings


@pytest.fixture
def wctx(tmp_path: Path, database_url: str | None):
    with open_context(workflow_settings(tmp_path / "home", database_url)) as context:
        svc = services(context)
        known_bank(context, svc)
        yield context, svc


def _spooled(svc) -> list[Path]:
    spool = Path(svc.submissions.spool)
    return list(spool.iterdir()) if spool.exists() else []


def test_over_long_fields_are_refused_and_leave_no_spool_file(wctx) -> None:
    ctx, svc = wctx
    content = Content("upload-1", "url", url=KNOWN_URL)
    with pytest.raises(InvalidInput, match="source of 'upload-1' is 201 characters; at most 200"):
        svc.submissions.submit("matcher-1", content, None, "s" * 201)
    with pytest.raises(InvalidInput, match="idempotency key of 'upload-1' is 300 characters"):
        svc.submissions.submit("matcher-1", content, "k" * 300, None)
    assert _spooled(svc) == []
    out, created = svc.submissions.submit("matcher-1", content, "k" * 200, "s" * 200)  # the limits themselves are fine
    assert created and out["source"] == "s" * 200


def test_a_failed_insert_leaves_no_spool_file(wctx, monkeypatch) -> None:
    ctx, svc = wctx

    class DatabaseDown:
        def begin(self):
            raise OperationalError("INSERT INTO submissions", {}, ConnectionError("server closed the connection"))

        def __call__(self):
            return ctx.sessions()

    monkeypatch.setattr(svc.submissions, "_sessions", DatabaseDown())
    with pytest.raises(OperationalError):
        svc.submissions.submit("matcher-1", Content("upload-1", "url", url=KNOWN_URL), None, "tests")
    assert _spooled(svc) == []


def _lease_left(ctx, submission_id: int) -> float:
    with ctx.sessions() as session:
        row = session.get(Submission, submission_id)
        assert row.status == "scanning"
        return row.lease_until - time.time()


def test_a_dead_workers_submission_is_retaken_within_a_minute(wctx, monkeypatch) -> None:
    ctx, svc = wctx
    submission_id = submit_known(svc)
    run_and_kill(ctx.settings.home, ctx.settings.database_url, "submission", "scan")
    assert 0 < _lease_left(ctx, submission_id) <= 60
    real = time.time
    monkeypatch.setattr(submissions_module, "time", types.SimpleNamespace(time=lambda: real() + 61))
    assert svc.submissions.process_next()
    row = svc.submissions.get(submission_id)
    assert row["status"] == "done" and row["case_id"] is not None and counts(ctx)["cases"] == 1


def test_a_live_worker_keeps_its_lease_through_a_long_scan(wctx, monkeypatch) -> None:
    ctx, svc = wctx
    monkeypatch.setattr(submissions_module, "LEASE_S", 3.0)
    monkeypatch.setattr(submissions_module, "RENEW_S", 0.25, raising=False)
    scanning, scan = threading.Event(), Engine.scan

    def long_scan(self, *args, **kwargs):
        scanning.set()
        time.sleep(7.0)  # more than twice the lease
        return scan(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "scan", long_scan)
    submission_id = submit_known(svc)
    first = threading.Thread(target=svc.submissions.process_next)
    first.start()
    assert scanning.wait(60)
    other = services(ctx).submissions  # a second worker over the same store
    taken = []
    while first.is_alive():
        taken.append(other.process_next())
        time.sleep(0.5)
    first.join()
    assert not any(taken)
    row = svc.submissions.get(submission_id)
    assert row["status"] == "done" and counts(ctx)["cases"] == 1


def test_a_worker_that_lost_its_lease_records_nothing(wctx, monkeypatch) -> None:
    ctx, svc = wctx
    submission_id = submit_known(svc)
    scan = Engine.scan

    def scan_while_another_worker_takes_over(self, *args, **kwargs):
        with ctx.sessions.begin() as session:
            session.execute(update(Submission).where(Submission.id == submission_id).values(lease_token="another-worker"))
        return scan(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "scan", scan_while_another_worker_takes_over)
    assert svc.submissions.process_next()
    assert counts(ctx) == {"cases": 0, "actions": 0}
    with ctx.sessions() as session:
        row = session.get(Submission, submission_id)
    assert (row.status, row.lease_token) == ("scanning", "another-worker")
    assert row.spool_path and Path(row.spool_path).exists()  # the other worker still needs the content


def test_the_api_answers_422_for_over_long_upload_fields(api) -> None:
    c, mat = api.client, api.h("matcher")
    upload = {"file": ("note.txt", b"a benign note about the weather", "text/plain")}
    for field in ("source", "idempotency_key"):
        bad = c.post("/api/v1/submissions", files=upload, data={field: "x" * 300}, headers=mat)
        assert bad.status_code == 422 and f"field {field!r} of 'note.txt' is 300 characters" in bad.json()["detail"]
    assert _spooled(api.state) == []
