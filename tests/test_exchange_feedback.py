"""Reviewers' verdicts pushed upstream (issue 18): through python-threatexchange's report_opinion,
once per verdict, retried, with a dry run and an audit entry; unsupported opinions are recorded as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from crossmatch.audit.models import AuditEntry
from crossmatch.context import open_context
from crossmatch.exchange.feedback import push
from crossmatch.exchange.service import ExchangeService, build_source
from crossmatch.samples import make_poster, to_bytes
from crossmatch.settings import Settings
from crossmatch.signals.base import Content
from workflow_support import services


class Flaky:
    """The real local_file API behind a connection that drops its first calls (fault injection)."""

    def __init__(self, api, failures: int) -> None:
        self.api, self.failures, self.calls = api, failures, 0

    def report_opinion(self, *args):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("connection reset by peer")
        return self.api.report_opinion(*args)


def test_verdicts_go_upstream_once_with_dry_run_retries_and_audit(tmp_path: Path, database_url) -> None:
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, deep_scan=False)
    with open_context(settings) as ctx:
        svc = services(ctx)
        posters = {n: to_bytes(make_poster(n)) for n in (31, 32)}
        hashes = {n: next(s.value for s in ctx.engine.hash(Content(f"p{n}", "image", data=data)).signals if s.type == "pdq")
                  for n, data in posters.items()}
        shared = tmp_path / "shared-list.txt"
        shared.write_text("".join(f"pdq {h}\n" for h in hashes.values()))
        from crossmatch.banks.schemas import BankSpec

        ctx.banks.create_bank(BankSpec(name="partner"))
        exchanges = ExchangeService(ctx)
        exchanges.add("partner-list", "pytx", "partner", {"api": "local_file", "collab": {"filename": str(shared)}})
        assert exchanges.sync("partner-list").added == 2
        cases = {}
        for n, data in posters.items():
            result = ctx.engine.scan(Content(f"upload-{n}", "image", data=data))
            cases[n] = svc.review.open_case(result, None)
        for n, decision, note in ((31, "confirm", "same poster, logo visible"), (32, "reject", "different event")):
            svc.review.claim(cases[n], "alice")
            svc.review.decide(cases[n], "alice", decision, note)

        dry = push(ctx, "partner-list", "curator-1", dry_run=True)
        assert {v["opinion"] for v in dry.verdicts} == {"true_positive", "false_positive"}
        assert shared.read_text().count("\n") == 2  # nothing sent

        api = Flaky(build_source(exchanges.get("partner-list"), ctx.registry)._api(), failures=1)
        report = push(ctx, "partner-list", "curator-1", api=api, backoff_s=0.01)
        # local_file takes only true positives; python-threatexchange 1.2.17 then fails opening its file
        # (mode "wta"), so the true positive is recorded as failed, to be retried, and nothing is lost.
        assert (report.sent, report.unsupported, report.failed) == (0, 1, 1)
        by_item = {v["opinion"]: v for v in report.verdicts}
        assert by_item["false_positive"]["status"] == "unsupported"
        assert by_item["true_positive"]["status"] == "failed" and "ValueError" in by_item["true_positive"]["detail"]
        assert api.calls >= 2  # the dropped connection was retried

        again = push(ctx, "partner-list", "curator-1", dry_run=True)
        assert [v["opinion"] for v in again.verdicts] == ["true_positive"]  # the failed one again; the unsupported one never
        with ctx.sessions() as session:
            entries = [e for e in session.scalars(select(AuditEntry)) if e.action == "exchange.feedback"]
        assert len(entries) == 1 and entries[0].actor == "curator-1"

    cmd = [str(Path(sys.executable).with_name("crossmatch")), "--home", str(settings.home)]
    if database_url:
        cmd += ["--database-url", database_url]
    out = subprocess.run([*cmd, "exchange", "feedback", "partner-list", "--json"], capture_output=True, text=True)
    assert out.returncode == 1 and json.loads(out.stdout)["failed"] == 1  # a failure is an exit code for cron
