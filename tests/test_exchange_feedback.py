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


# -- through the lower-level clients' own feedback calls, against loopback fakes ----------------------

def _decided_cases(ctx, svc, posters: dict[int, bytes]) -> dict[int, int]:
    """Poster 31 confirmed (a true positive), poster 32 rejected (a false positive)."""
    cases = {}
    for n, data in posters.items():
        cases[n] = svc.review.open_case(ctx.engine.scan(Content(f"upload-{n}", "image", data=data)), None)
    for n, decision, note in ((31, "confirm", "same poster, logo visible"), (32, "reject", "different event")):
        svc.review.claim(cases[n], "alice")
        svc.review.decide(cases[n], "alice", decision, note)
    return cases


def _posters(ctx) -> tuple[dict[int, bytes], dict[int, str]]:
    posters = {n: to_bytes(make_poster(n)) for n in (31, 32)}
    hashes = {n: next(s.value for s in ctx.engine.hash(Content(f"p{n}", "image", data=data)).signals if s.type == "pdq")
              for n, data in posters.items()}
    return posters, hashes


def test_threatexchange_verdicts_are_reactions_on_other_members_descriptors(tmp_path: Path, database_url, monkeypatch) -> None:
    from crossmatch.banks.schemas import BankSpec
    from fake_sources import FakeExchangeServer, te_record

    monkeypatch.setenv("CM_TEST_TX_TOKEN", "1234567890|abcdefghijklmnopqrstuvwxyz0123")
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, deep_scan=False)
    with FakeExchangeServer() as server, open_context(settings) as ctx:
        svc = services(ctx)
        posters, hashes = _posters(ctx)
        # Shared by another member (app 555): descriptors 310 and 320.
        server.te_updates = [te_record(n, hashes[n], owner=555, updated=1000 + n) for n in (31, 32)]
        ctx.banks.create_bank(BankSpec(name="te"))
        exchanges = ExchangeService(ctx)
        exchanges.add("gifct", "pytx", "te", {"api": "fb_threatexchange", "collab": {"privacy_group": 42},
                                             "base_url": server.url, "credentials_env": "CM_TEST_TX_TOKEN"})
        assert exchanges.sync("gifct").added == 2
        _decided_cases(ctx, svc, posters)

        dry = push(ctx, "gifct", "curator-1", dry_run=True)
        assert len(dry.verdicts) == 2 and server.te_reactions == []  # nothing sent

        server.fail("/310/?", "500")  # the first reaction meets a server error once
        report = push(ctx, "gifct", "curator-1", backoff_s=0.01)
        assert (report.sent, report.unsupported, report.failed) == (2, 0, 0), report.verdicts
        assert server.te_reactions == [(310, "HELPFUL"), (320, "DISAGREE_WITH_TAGS")]  # once each, after the retry
        assert sum(1 for r in server.requests if r.startswith("POST /310/")) == 2
        assert push(ctx, "gifct", "curator-1").verdicts == []  # nothing twice

        # The library reads the reactions back as opinions: what we sent is what the exchange will show.
        from threatexchange.exchanges.impl.fb_threatexchange_api import FBThreatExchangeIndicatorRecord
        from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import ThreatUpdateJSON

        record = te_record(32, hashes[32], owner=555)
        record["descriptors"]["data"][0]["reactions"] = [{"key": reaction, "value": "1234567890"}
                                                         for descriptor, reaction in server.te_reactions if descriptor == 320]
        opinions = FBThreatExchangeIndicatorRecord.from_threatexchange_json(1234567890, ThreatUpdateJSON(record)).opinions
        assert [o.category.name for o in opinions if o.is_mine] == ["NEGATIVE_CLASS"]


def test_ncmec_verdicts_are_entry_feedback(tmp_path: Path, database_url, monkeypatch) -> None:
    from crossmatch.banks.schemas import BankSpec
    from fake_sources import FakeExchangeServer

    monkeypatch.setenv("CM_TEST_NCMEC", "esp-user:esp-password")
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, deep_scan=False)
    with FakeExchangeServer() as server, open_context(settings) as ctx:
        svc = services(ctx)
        posters, hashes = _posters(ctx)
        server.ncmec_entries = [{"id": f"image{n}", "member": 42, "pdq": hashes[n]} for n in (31, 32)]
        ctx.banks.create_bank(BankSpec(name="ncmec"))
        exchanges = ExchangeService(ctx)
        exchanges.add("ncmec-test", "pytx", "ncmec", {"api": "ncmec", "collab": {"environment": "test_Industry"},
                                                      "base_url": server.url, "credentials_env": "CM_TEST_NCMEC"})
        synced = exchanges.sync("ncmec-test")
        assert synced.added == 2, synced.errors
        _decided_cases(ctx, svc, posters)

        server.fail("/v2/entries/42/image31/", "500")
        report = push(ctx, "ncmec-test", "curator-1", backoff_s=0.01)
        assert (report.sent, report.unsupported, report.failed) == (2, 0, 0), report.verdicts
        [(up_path, up), (down_path, down)] = server.ncmec_feedback
        assert up_path == "/v2/entries/42/image31/PDQ/feedback" and "<affirmative" in up
        # A false positive needs a reason id: NCMEC offers one here, so it is the one sent.
        assert down_path == "/v2/entries/42/image32/PDQ/feedback" and "<negative>" in down
        assert "5f4b7c1e-0000-4000-8000-000000000001" in down
        assert push(ctx, "ncmec-test", "curator-1").verdicts == []

        # With several reasons on offer the library needs one chosen: failed until the exchange names it.
        server.ncmec_reasons["5f4b7c1e-0000-4000-8000-000000000002"] = "Not actionable"
        ctx.banks.create_bank(BankSpec(name="ncmec-2"))
        config = {"api": "ncmec", "collab": {"environment": "test_Industry"}, "base_url": server.url, "credentials_env": "CM_TEST_NCMEC"}
        exchanges.add("ncmec-2", "pytx", "ncmec-2", config)
        assert exchanges.sync("ncmec-2").added == 2
        second = _decided_cases(ctx, svc, posters)
        server.ncmec_feedback.clear()
        report = push(ctx, "ncmec-2", "curator-1", backoff_s=0.01)
        assert (report.sent, report.failed) == (1, 1) and "Need to pick a feedback reason" in report.verdicts[1]["detail"]
        exchanges.update("ncmec-2", config={**config, "feedback_reason": "5f4b7c1e-0000-4000-8000-000000000002"})
        report = push(ctx, "ncmec-2", "curator-1", backoff_s=0.01)
        assert report.sent == 1 and [v["case_id"] for v in report.verdicts] == [second[32]]
        assert "5f4b7c1e-0000-4000-8000-000000000002" in server.ncmec_feedback[-1][1]


def test_tcap_verdicts_are_recorded_unsupported_with_the_reason(tmp_path: Path, database_url, monkeypatch) -> None:
    from crossmatch.banks.schemas import BankSpec
    from fake_sources import FakeExchangeServer, tcap_entry

    monkeypatch.setenv("CM_TEST_TCAP", "analyst:secret")
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, deep_scan=False)
    with FakeExchangeServer() as server, open_context(settings) as ctx:
        svc = services(ctx)
        posters, hashes = _posters(ctx)
        server.tcap_entries = [tcap_entry(n, hashes[n], "PDQ", updated=1704085200.0 + n) for n in (31, 32)]
        ctx.banks.create_bank(BankSpec(name="tcap"))
        exchanges = ExchangeService(ctx)
        exchanges.add("tcap", "pytx", "tcap", {"api": "tat", "base_url": server.url, "credentials_env": "CM_TEST_TCAP"})
        assert exchanges.sync("tcap").added == 2
        _decided_cases(ctx, svc, posters)
        before = len(server.requests)
        report = push(ctx, "tcap", "curator-1")
        assert (report.sent, report.unsupported, report.failed) == (0, 2, 0)
        assert all("has no call for feedback" in v["detail"] for v in report.verdicts), report.verdicts
        assert len(server.requests) == before  # nothing was sent
        assert push(ctx, "tcap", "curator-1").verdicts == []  # recorded once, not retried
