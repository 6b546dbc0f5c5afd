"""The service CLI: token, user, actions and audit commands (JSON mode), on a real data directory."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from crossmatch.actions.service import ActionService
from crossmatch.cli import app
from crossmatch.context import open_context
from crossmatch.settings import Settings
from test_api_support import Receiver

runner = CliRunner()


def run(home, *args, input: str | None = None) -> list[dict]:
    result = runner.invoke(app, ["--home", str(home), *args], input=input)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_tokens_users_audit(tmp_path):
    [made] = run(tmp_path, "token", "create", "--role", "matcher", "--name", "upload-service", "--json")
    assert made["token"].startswith("cm_") and made["role"] == "matcher"
    listed = run(tmp_path, "token", "list", "--json")
    assert [t["name"] for t in listed] == ["upload-service"] and "token" not in listed[0]
    [revoked] = run(tmp_path, "token", "revoke", str(made["id"]), "--json")
    assert revoked["revoked"] is True
    bad = runner.invoke(app, ["--home", str(tmp_path), "token", "create", "--role", "root", "--json"])
    assert bad.exit_code == 2 and "unknown role" in json.loads(bad.stdout)["detail"]

    [user] = run(tmp_path, "user", "create", "rita", "--role", "reviewer", "--password-stdin", "--json", input="a long enough password\n")
    assert user["username"] == "rita" and user["enabled"] is True
    short = runner.invoke(app, ["--home", str(tmp_path), "user", "create", "bob", "--password-stdin", "--json"], input="short\n")
    assert short.exit_code == 2 and "too short" in json.loads(short.stdout)["detail"]
    run(tmp_path, "user", "disable", "rita", "--json")
    assert run(tmp_path, "user", "list", "--json")[0]["enabled"] is False

    trail = run(tmp_path, "audit", "--json")
    assert [r["action"] for r in trail] == ["user.disable", "user.create", "token.revoke", "token.create"]
    assert all(r["actor"].startswith("cli") for r in trail)


def test_actions_deliver_list_retry(tmp_path, monkeypatch):
    receiver = Receiver()
    try:
        with open_context(Settings(home=tmp_path)) as ctx:
            actions = ActionService(ctx.sessions, ctx.settings, ctx.banks)
            actions.create_webhook("platform", receiver.url, ["match.auto"])
            ids = actions.enqueue("match.auto", {"item": "a"}) + actions.enqueue("match.auto", {"item": "b"})
        receiver.mode = "fail"
        monkeypatch.setenv("CROSSMATCH_SERVICE__WEBHOOK_MAX_ATTEMPTS", "1")
        [report] = run(tmp_path, "actions", "deliver", "--json")
        assert report == {"delivered": 0, "failed": 0, "dead": 2}
        assert {a["id"] for a in run(tmp_path, "actions", "list", "--status", "dead", "--json")} == set(ids)
        assert run(tmp_path, "actions", "retry", "--all-dead", "--json") == [{"retried": 2}]
        receiver.mode = "ok"
        assert run(tmp_path, "actions", "deliver", "--json") == [{"delivered": 2, "failed": 0, "dead": 0}]
        assert len(receiver.unique_deliveries()) == 2
        nothing = runner.invoke(app, ["--home", str(tmp_path), "actions", "retry", "--json"])
        assert nothing.exit_code == 2 and "--all-dead" in json.loads(nothing.stdout)["detail"]
    finally:
        receiver.close()
