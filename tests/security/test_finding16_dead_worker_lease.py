"""Issue 15 finding 16: a submission left by a worker that died mid-scan is taken up within a minute.

It used to wait out a 900 s lease.  Migration 0005 gave submissions a 45 s lease that a
live worker renews while it scans (tests/test_submission_worker.py kills a real worker
process with SIGKILL); here the same through HTTP, with the dead worker simulated as one
that took the lease and never came back.
"""

from __future__ import annotations

import time
import types
from typing import Iterator

import pytest

from crossmatch.api import submissions as submissions_module
from crossmatch.api.submissions import Submission, SubmissionService
from test_api_support import BACKENDS, Api, running_api


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path) -> Iterator[Api]:
    with running_api(tmp_path / "home", request.param) as running:
        yield running


def test_a_submission_left_mid_scan_is_retaken_within_a_minute(api: Api, monkeypatch) -> None:
    sent = api.client.post("/api/v1/submissions", json={"text": "a benign sentence to scan"}, headers=api.h("matcher"))
    assert sent.status_code == 202
    submission_id = sent.json()["id"]
    # Worker one takes the lease, then dies (kill -9): it never scans, renews or records.
    with monkeypatch.context() as dying:
        dying.setattr(SubmissionService, "_process", lambda self, submission_id, token: None)
        assert api.state.submissions.process_next()
    with api.state.ctx.sessions() as session:
        row = session.get(Submission, submission_id)
        assert row.status == "scanning" and 0 < row.lease_until - time.time() <= 60
    assert not api.state.submissions.process_next()  # the lease still holds: nobody else scans it yet
    real = time.time
    monkeypatch.setattr(submissions_module, "time", types.SimpleNamespace(time=lambda: real() + 61))
    assert api.state.submissions.process_next()  # a minute later another worker takes it
    done = api.client.get(f"/api/v1/submissions/{submission_id}", headers=api.h("matcher")).json()
    assert done["status"] == "done" and done["error"] is None
