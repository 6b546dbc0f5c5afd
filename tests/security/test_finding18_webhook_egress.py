"""Issue 15 finding 18: a documented webhook egress policy; receivers' credentials stay out of the audit trail.

Before the fix any URL was accepted (loopback, the cloud metadata address) with no
setting to forbid it, and a URL's ``user:password@`` and query tokens were copied
into the audit log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmatch.actions.delivery import Deliverer
from test_api_support import BACKENDS, running_api, unique


@pytest.mark.parametrize("backend", BACKENDS)
def test_webhook_credentials_are_redacted_in_the_audit_trail(tmp_path: Path, backend: str) -> None:
    with running_api(tmp_path / "home", backend) as api:
        url = "http://hooks:s3cret-pass@127.0.0.1:9/receive?token=abc123&team=t1"
        made = api.client.post("/api/v1/webhooks", json={"name": unique("hook"), "url": url}, headers=api.h("admin"))
        assert made.status_code == 201
        changed = api.client.patch(f"/api/v1/webhooks/{made.json()['id']}", json={"url": url.replace("abc123", "def456")},
                                   headers=api.h("admin"))
        assert changed.status_code == 200
        trail = [r.to_json() for r in api.state.audit.query(action="webhook.")]
        assert len(trail) == 2
        text = str(trail)
        assert "s3cret-pass" not in text and "abc123" not in text and "def456" not in text
        assert "hooks:***@127.0.0.1:9/receive?token=***&team=***" in text


@pytest.mark.parametrize("backend", BACKENDS)
def test_public_egress_refuses_loopback_private_and_metadata_hosts(tmp_path: Path, backend: str) -> None:
    with running_api(tmp_path / "home", backend, webhook_egress="public") as api:
        for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data",
                    "http://10.1.2.3/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x"):
            refused = api.client.post("/api/v1/webhooks", json={"name": unique("hook"), "url": url}, headers=api.h("admin"))
            assert refused.status_code == 422 and "webhook_egress" in refused.json()["detail"], url
        public = api.client.post("/api/v1/webhooks", json={"name": unique("hook"), "url": "https://93.184.216.34/hook"},
                                 headers=api.h("admin"))
        assert public.status_code == 201  # (saved only: nothing is sent here)


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_egress_refuses_the_metadata_service_but_not_a_local_receiver(tmp_path: Path, backend: str) -> None:
    with running_api(tmp_path / "home", backend) as api:  # service.webhook_egress left at its default
        for url in ("http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "http://0.0.0.0:8080/x",
                    "http://[::ffff:169.254.169.254]/x"):
            refused = api.client.post("/api/v1/webhooks", json={"name": unique("hook"), "url": url}, headers=api.h("admin"))
            assert refused.status_code == 422 and "webhook_egress" in refused.json()["detail"], url
        for url in ("http://127.0.0.1:8080/x", "http://10.1.2.3/x", "http://localhost:9/x"):
            saved = api.client.post("/api/v1/webhooks", json={"name": unique("hook"), "url": url}, headers=api.h("admin"))
            assert saved.status_code == 201, (url, saved.text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_public_egress_is_checked_again_at_delivery(tmp_path: Path, backend: str) -> None:
    with running_api(tmp_path / "home", backend) as api:  # saved while egress was 'local' ...
        hook, _ = api.state.actions.create_webhook(unique("hook"), "http://127.0.0.1:9/hook", ["decision"])
        [action_id] = api.state.actions.enqueue("decision", {"case_id": 1})
        settings = api.state.settings.service.model_copy(update={"webhook_egress": "public"})  # ... then tightened
        report = Deliverer(api.state.ctx.sessions, settings).deliver_due()
        assert report.failed == 1
        assert "webhook_egress" in api.state.actions.get_action(action_id)["last_error"]
