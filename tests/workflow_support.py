"""Shared by the workflow tests and the child processes they kill: the services as the server wires them,
a bank with one known URL, and a child runner that SIGKILLs itself right after a named step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from crossmatch.actions.models import Action
from crossmatch.actions.service import ActionService
from crossmatch.api.submissions import SubmissionService
from crossmatch.audit.service import AuditLog
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import Context
from crossmatch.review.models import Case
from crossmatch.review.service import ReviewService
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, Signal

KNOWN_URL = "https://example.com/known-page"
HERE = Path(__file__).resolve().parent


def workflow_settings(home: Path, database_url: str | None) -> Settings:
    # Reviewers allow-list directly here, so the allow-bank write is one of the decision's steps to kill.
    return Settings.load(home=home, database_url=database_url, workers=1, deep_scan=False, review={"allow_needs_approval": False})


@dataclass
class Services:
    audit: AuditLog
    actions: ActionService
    review: ReviewService
    submissions: SubmissionService


def services(ctx: Context) -> Services:
    audit = AuditLog(ctx.sessions)
    actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
    review = ReviewService(ctx.sessions, ctx.banks, audit, actions, ctx.settings)
    submissions = SubmissionService(ctx.sessions, ctx.settings, ctx.engine, actions, review)
    return Services(audit, actions, review, submissions)


def known_bank(ctx: Context, svc: Services) -> None:
    """A block bank with one known URL, an allow bank, and a webhook for every event."""
    ctx.banks.create_bank(BankSpec(name="known"))
    ctx.banks.create_bank(BankSpec(name="benign", kind="allow"))
    ctx.banks.upsert_items("known", [ItemUpsert("page-1", [Signal("url", KNOWN_URL)], {"entity": "Sample group"})])
    svc.actions.create_webhook("platform", "http://127.0.0.1:9/hook", ["match.auto", "match.review", "decision", "submission.scanned"])


def submit_known(svc: Services, item: str = "upload-1") -> int:
    out, created = svc.submissions.submit("matcher-1", Content(item, "url", url=KNOWN_URL), None, "tests")
    assert created
    return out["id"]


def counts(ctx: Context) -> dict[str, int]:
    with ctx.sessions() as session:
        return {"cases": session.scalar(select(func.count()).select_from(Case)) or 0,
                "actions": session.scalar(select(func.count()).select_from(Action)) or 0}


def actions_of(ctx: Context, **where) -> list[Action]:
    with ctx.sessions() as session:
        query = select(Action).order_by(Action.id)
        for key, value in where.items():
            query = query.where(getattr(Action, key) == value)
        return list(session.scalars(query))


# The child: patch one step to SIGKILL the process right after it returns, then run the workflow.
CHILD = r"""
import os, signal, sys
from workflow_support import services, workflow_settings
from crossmatch.actions.service import ActionService
from crossmatch.audit.service import AuditLog
from crossmatch.banks.service import BankService
from crossmatch.context import open_context
from crossmatch.engine import Engine
from crossmatch.review.service import ReviewService

home, url, workflow, step, arg = sys.argv[1], sys.argv[2] or None, sys.argv[3], sys.argv[4], sys.argv[5]
owner = {"open_case": ReviewService, "on_scan": ActionService, "upsert_items": BankService, "record": AuditLog,
         "on_decision": ActionService, "record_opinion": BankService, "scan": Engine}[step]
original = getattr(owner, step)

def step_then_die(*args, **kwargs):
    original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

setattr(owner, step, step_then_die)
with open_context(workflow_settings(home, url)) as ctx:
    svc = services(ctx)
    if workflow == "submission":
        svc.submissions.process_next()
    else:
        svc.review.decide(int(arg), "alice", "reject", "benign poster", add_to_allow_bank="benign")
sys.exit(3)  # the step was never reached
"""


def run_and_kill(home: Path, database_url: str | None, workflow: str, step: str, arg: str = "") -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(home), database_url or "", workflow, step, arg],
                          env=env, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == -9, f"the child was not killed at {step} (exit {proc.returncode}): {proc.stderr.decode()[-2000:]}"


def start_together(procs: list[subprocess.Popen], go: Path) -> None:
    """Wait until every child has touched ``<go>.ready<n>`` (it is set up), then let them all go at once."""
    deadline = time.monotonic() + 120
    while len(list(go.parent.glob(f"{go.name}.ready*"))) < len(procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "the child processes did not start"
        time.sleep(0.05)
    go.touch()
