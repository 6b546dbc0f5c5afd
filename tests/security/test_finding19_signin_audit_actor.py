"""Issue 15 finding 19 (second half): a failed sign-in never writes the typed username as an audit actor.

Before the fix, each failed sign-in wrote an audit row whose actor was whatever a
stranger typed (up to 200 characters).  Now the actor is the account when it exists,
else "anonymous", and the typed text is not stored at all.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from test_api_support import BACKENDS
from web_support import PASSWORD, sign_in, web_app


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_signins_do_not_record_attacker_chosen_actor_names(tmp_path, backend) -> None:
    junk = "<script>x</script>" + "A" * 180
    with web_app(tmp_path, backend) as app:
        app.state.users.create("rita", PASSWORD, "reviewer")
        with TestClient(app) as client:
            assert sign_in(client, junk, "whatever-password").status_code == 401
            assert sign_in(client, "rita", "wrong-password").status_code == 401
        failed = app.state.audit.query(action="auth.signin_failed")
        assert sorted(r.actor for r in failed) == ["anonymous", "rita"]
        assert not any("script" in str(r.to_json()) or "AAAA" in str(r.to_json()) for r in failed)
