"""Outlets over HTTP: submissions with a source, pseudonymised accounts, handles for analysts only, roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crossmatch.api.app import create_app
from crossmatch.settings import OutletSettings, ServiceSettings, Settings

ROLES = ("hasher", "matcher", "curator", "reviewer", "analyst", "admin")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("home"), deep_scan=False, workers=1,
                        service=ServiceSettings(background_workers=False, rate_per_second=0),
                        outlets=OutletSettings(keep_handles=True, pseudonym_key="a-test-key-of-some-length"))
    app = create_app(settings)
    with TestClient(app) as client:
        tokens = {role: app.state.tokens.create(role, f"test-{role}")[0] for role in ROLES}
        yield app, client, {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}


def _drain(app) -> None:
    while app.state.submissions.process_next():
        pass


def test_submission_source_is_pseudonymised_and_handles_are_for_analysts(api):
    app, client, h = api
    source = {"platform": "Telegram", "account": "@Some_Channel", "post_id": "981", "url": "https://t.me/some/981",
              "posted_at": "2026-11-02T10:00:00Z", "links": ["https://example.org/a", "not a url"], "parent": "970"}
    r = client.post("/api/v1/submissions", json={"text": "A short benign post about the weather.", "source": source},
                    headers=h["matcher"])
    assert r.status_code == 202, r.text
    record = r.json()["source_record"]
    assert record["account"].startswith("acct_") and "handle" not in record and record["platform"] == "telegram"
    assert record["links"] == ["https://example.org/a"] and "not a url" in record["warnings"][0]
    assert "Some_Channel" not in r.text
    _drain(app)
    assert client.get(f"/api/v1/submissions/{r.json()['id']}", headers=h["matcher"]).json()["status"] == "done"

    as_analyst = client.get("/api/v1/outlets/accounts", params={"flagged": "false"}, headers=h["analyst"]).json()["accounts"]
    [account] = [a for a in as_analyst if a["account"] == record["account"]]
    assert account["handle"] == "@Some_Channel" and account["posts"] == 1 and account["flagged_at"] is None
    as_reviewer = client.get(f"/api/v1/outlets/accounts/{record['account']}", headers=h["reviewer"]).json()
    assert "handle" not in as_reviewer and as_reviewer["posts"] == 1
    # The same handle, written differently, is the same account; on another platform it is another.
    again = client.post("/api/v1/submissions", headers=h["matcher"],
                        json={"text": "Another post.", "source": {**source, "account": "some_channel", "post_id": "982"}})
    other = client.post("/api/v1/submissions", headers=h["matcher"],
                        json={"text": "Another post.", "source": {**source, "platform": "vk", "post_id": "982"}})
    assert again.json()["source_record"]["account"] == record["account"]
    assert other.json()["source_record"]["account"] != record["account"]


def test_malformed_sources_are_accepted_with_warnings(api):
    app, client, h = api
    cases = [
        ({"account": "lonely"}, "without source.platform"),
        ({"platform": "telegram", "account": ["x"]}, "must be text"),
        ({"platform": "telegram", "account": "a", "posted_at": "last tuesday"}, "posted_at"),
        ({"platform": "telegram", "account": "a", "colour": "red"}, "not known"),
        ({"platform": "Tele gram!", "account": "a"}, "short name"),
    ]
    for source, expected in cases:
        r = client.post("/api/v1/submissions", json={"text": "benign text", "source": source}, headers=h["matcher"])
        assert r.status_code == 202, r.text
        assert any(expected in w for w in r.json()["source_record"]["warnings"]), (source, r.json())
    assert client.post("/api/v1/submissions", json={"text": "x", "source": "partner-feed"}, headers=h["matcher"]).json()["source"] == "partner-feed"
    _drain(app)


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/api/v1/outlets", {"analyst", "curator", "reviewer"}),
    ("GET", "/api/v1/outlets/accounts", {"analyst", "curator", "reviewer"}),
    ("GET", "/api/v1/outlets/candidates", {"analyst", "curator", "reviewer"}),
    ("GET", "/api/v1/outlets/export?format=csv", {"analyst", "curator", "reviewer"}),
    ("POST", "/api/v1/outlets/candidates/999/decision", {"curator"}),
])
def test_roles(api, method, path, allowed):
    _, client, h = api
    for role in ROLES:
        r = client.request(method, path, headers=h[role], json={"decision": "reject"} if method == "POST" else None)
        if role in allowed or role == "admin":
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)


def test_raw_handles_leave_only_when_an_admin_asks(api):
    _, client, h = api
    assert client.get("/api/v1/outlets/export", params={"format": "csv", "handles": "true"}, headers=h["analyst"]).status_code == 422
    assert client.get("/api/v1/outlets/export", params={"format": "csv", "handles": "true"}, headers=h["admin"]).status_code == 200
    assert client.get("/api/v1/outlets/export", params={"format": "pdf"}, headers=h["admin"]).status_code == 422
    assert client.get("/api/v1/outlets/999", headers=h["analyst"]).status_code == 404
