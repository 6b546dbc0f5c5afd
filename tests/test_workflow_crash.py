"""kill -9 inside a workflow, then rerun it: everything happened exactly once, on SQLite and PostgreSQL.

A child process runs the workflow with one step patched to SIGKILL the process
right after the step returns (nothing in crossmatch knows about it).  Then this
process reruns the workflow and checks that there is one case, one decision, one
audit entry and one action per event and webhook, whose delivery ids do not
change when the workflow is run yet again.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from sqlalchemy import select

from crossmatch.api import submissions as submissions_module
from crossmatch.api.submissions import Submission
from crossmatch.audit.models import AuditEntry
from crossmatch.context import open_context
from crossmatch.errors import Conflict
from crossmatch.review.models import Case, Decision
from crossmatch.signals.base import Content
from workflow_support import KNOWN_URL, actions_of, counts, known_bank, run_and_kill, services, submit_known, workflow_settings

pytestmark = pytest.mark.slow  # each test starts a child Python process and kills it


def _later(monkeypatch, seconds: float) -> None:
    """This process's submission worker sees the clock ``seconds`` ahead (a dead worker's lease has run out)."""
    real = submissions_module.time.time
    monkeypatch.setattr(submissions_module, "time", types.SimpleNamespace(time=lambda: real() + seconds))


@pytest.mark.parametrize("step", ["open_case", "on_scan"])
def test_submission_killed_mid_workflow_is_recorded_once(tmp_path: Path, database_url: str | None, monkeypatch, step: str) -> None:
    settings = workflow_settings(tmp_path / "home", database_url)
    with open_context(settings) as ctx:
        svc = services(ctx)
        known_bank(ctx, svc)
        submission_id = submit_known(svc)
        run_and_kill(settings.home, database_url, "submission", step)
        assert counts(ctx) == {"cases": 0, "actions": 0}  # nothing of the killed run committed

        _later(monkeypatch, submissions_module.LEASE_S + 1)
        assert svc.submissions.process_next()
        row = svc.submissions.get(submission_id)
        assert row["status"] == "done" and row["case_id"] is not None
        with ctx.sessions() as session:
            cases = list(session.scalars(select(Case).where(Case.submission_id == str(submission_id))))
        assert [c.id for c in cases] == [row["case_id"]]
        actions = actions_of(ctx, submission_id=submission_id)
        assert sorted(a.event for a in actions) == ["match.review", "submission.scanned"]
        assert sorted(a.id for a in actions) == sorted(row["action_ids"])
        delivery_ids = {a.delivery_id for a in actions}
        assert len(delivery_ids) == 2

        assert not svc.submissions.process_next()  # and once more: nothing left to do, nothing new
        assert {a.delivery_id for a in actions_of(ctx)} == delivery_ids and counts(ctx) == {"cases": 1, "actions": 2}
        with ctx.sessions() as session:
            spool = session.scalar(select(Submission.spool_path).where(Submission.id == submission_id))
        assert spool is None and not any(Path(svc.submissions.spool).iterdir())


@pytest.mark.parametrize("step", ["upsert_items", "record_opinion", "record", "on_decision"])
def test_decision_killed_mid_workflow_is_recorded_once(tmp_path: Path, database_url: str | None, step: str) -> None:
    settings = workflow_settings(tmp_path / "home", database_url)
    with open_context(settings) as ctx:
        svc = services(ctx)
        known_bank(ctx, svc)
        content = Content("upload-1", "url", url=KNOWN_URL)
        case_id = svc.review.open_case(ctx.engine.scan(content), content, "sub-1", "tests")
        assert case_id is not None
        svc.review.claim(case_id, "alice")
        run_and_kill(settings.home, database_url, "decision", step, str(case_id))
        assert svc.review.get_case(case_id).status == "open"  # nothing of the killed decision committed

        svc.review.decide(case_id, "alice", "reject", "benign poster", add_to_allow_bank="benign")
        with pytest.raises(Conflict, match="already rejected by alice"):
            svc.review.decide(case_id, "alice", "reject", "benign poster", add_to_allow_bank="benign")

        case = svc.review.get_case(case_id)
        assert case.status == "rejected"
        with ctx.sessions() as session:
            decisions = list(session.scalars(select(Decision).where(Decision.case_id == case_id)))
            audit = list(session.scalars(select(AuditEntry).where(AuditEntry.target == f"case:{case_id}")))
        assert [(d.decision, d.actor) for d in decisions] == [("reject", "alice")]
        assert [a.action for a in audit] == ["case.reject"]
        actions = actions_of(ctx, case_id=case_id, event="decision")
        assert len(actions) == 1 and decisions[0].action_ids == [actions[0].id]
        allow_item, _ = ctx.banks.get_item("benign", f"case-{case_id}")
        assert allow_item.labels["added_by"] == "alice"
        known_item, _ = ctx.banks.get_item("known", "page-1")
        assert (known_item.confirmed_count, known_item.rejected_count) == (0, 1)
        assert [a.delivery_id for a in actions_of(ctx, case_id=case_id, event="decision")] == [actions[0].delivery_id]
