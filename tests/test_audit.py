"""The audit trail: records, filters, newest first, append-only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crossmatch.audit.service import AuditLog
from crossmatch.errors import InvalidInput
from test_api_support import service_ctx, unique  # noqa: F401  (fixture)


def test_record_and_query(service_ctx):
    audit = AuditLog(service_ctx.sessions)
    actor = unique("alice")
    first = audit.record(actor, "bank.create", "bank-a", {"kind": "block"})
    audit.record(actor, "decision.confirm", "case/1", {"note": "known poster"})
    audit.record(unique("bob"), "bank.delete", "bank-b")
    mine = audit.query(actor=actor)
    assert [r.action for r in mine] == ["decision.confirm", "bank.create"]
    assert mine[1].id == first and mine[1].detail == {"kind": "block"} and mine[1].at.tzinfo is not None
    assert [r.target for r in audit.query(actor=actor, action="bank.")] == ["bank-a"]
    assert audit.query(actor=actor, action="bank") == []  # exact unless the filter ends in '.'
    assert len(audit.query(actor=actor, limit=1)) == 1
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert audit.query(actor=actor, since=future) == []
    assert len(audit.query(actor=actor, since=datetime.now(timezone.utc) - timedelta(hours=1))) == 2
    with pytest.raises(InvalidInput):
        audit.query(limit=5000)
    with pytest.raises(InvalidInput):
        audit.record("", "x")


def test_append_only_interface():
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"record", "query"}
