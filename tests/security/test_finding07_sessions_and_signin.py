"""Issue 15 finding 7: sign-out revokes the session server-side; sign-in is throttled; argon2 is bounded.

Before the fix the session was a stateless signed cookie (a copy kept working for
8 h after sign-out), 40 wrong passwords then the right one were accepted, and
every sign-in ran its own 64 MiB argon2 check however many arrived at once.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from test_api_support import BACKENDS
from web_support import PASSWORD, csrf_of, sign_in, web_app


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_signout_revokes_a_copied_session_cookie(tmp_path, backend) -> None:
    with web_app(tmp_path, backend) as app:
        app.state.users.create("rita", PASSWORD, "reviewer")
        with TestClient(app) as browser:
            assert sign_in(browser, "rita").status_code == 303
            stolen = browser.cookies.get("crossmatch_session")
            assert browser.get("/api/v1/cases").status_code == 200
            queue = browser.get("/queue")
            browser.post("/signout", data={"csrf": csrf_of(queue.text)})
        with TestClient(app) as thief:
            thief.cookies.set("crossmatch_session", stolen)
            assert thief.get("/api/v1/cases").status_code == 401
            page = thief.get("/queue", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/signin")


def test_wrong_passwords_then_the_right_one_is_refused(tmp_path, backend) -> None:
    with web_app(tmp_path, backend) as app:  # the shipped limits
        app.state.users.create("rita", PASSWORD, "reviewer")
        with TestClient(app) as guesser:
            answers = [sign_in(guesser, "rita", f"wrong-password-{n}").status_code for n in range(40)]  # the red team's run
            assert set(answers) == {401, 429} and answers[0] == 401 and answers[-1] == 429
            refused = sign_in(guesser, "rita")
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
            assert "Too many failed sign-ins" in refused.text
            assert guesser.get("/api/v1/cases").status_code == 401  # not signed in
        with TestClient(app, client=("198.51.100.7", 4000)) as owner:  # the account's owner elsewhere still can
            assert sign_in(owner, "rita").status_code == 303


def test_signin_is_throttled_per_account_across_addresses_and_per_address(tmp_path, backend) -> None:
    limits = {"signin_failures_per_account_address": 100, "signin_failures_per_account": 4, "signin_failures_per_address": 6}
    with web_app(tmp_path, backend, **limits) as app:
        for name in ("rita", "sam"):
            app.state.users.create(name, PASSWORD, "reviewer")
        for n in range(4):  # a botnet: one wrong password each from four addresses
            with TestClient(app, client=(f"203.0.113.{n + 1}", 4000)) as bot:
                assert sign_in(bot, "rita", "wrong-password").status_code == 401
        with TestClient(app, client=("203.0.113.99", 4000)) as fresh:
            assert sign_in(fresh, "rita").status_code == 429
        with TestClient(app, client=("192.0.2.5", 4000)) as sprayer:  # one address walking through accounts
            for n in range(6):
                assert sign_in(sprayer, f"nobody-{n}", "wrong-password").status_code == 401
            assert sign_in(sprayer, "sam").status_code == 429
        with TestClient(app, client=("192.0.2.6", 4000)) as other:
            assert sign_in(other, "sam").status_code == 303


def test_the_throttle_holds_across_server_processes(tmp_path, backend) -> None:
    """Two servers on one store count the same failures: N processes must not give N times the limit."""
    from crossmatch.api.app import create_app

    with web_app(tmp_path, backend, signin_failures_per_account_address=3) as first:
        first.state.users.create("rita", PASSWORD, "reviewer")
        second = create_app(first.state.settings)  # another process's server, same database
        try:
            with TestClient(first, client=("203.0.113.8", 4000)) as one, TestClient(second, client=("203.0.113.8", 4000)) as two:
                assert sign_in(one, "rita", "wrong-password").status_code == 401
                assert sign_in(two, "rita", "wrong-password").status_code == 401
                assert sign_in(one, "rita", "wrong-password").status_code == 401
                assert sign_in(two, "rita").status_code == 429  # the third failure was on the other server
                assert sign_in(one, "rita").status_code == 429
        finally:
            second.state.ctx.close()


def test_password_checks_wait_for_a_free_slot_then_answer_busy(tmp_path, backend) -> None:
    with web_app(tmp_path, backend, password_hashing_concurrency=1, password_hashing_wait_s=0.05) as app:
        app.state.users.create("rita", PASSWORD, "reviewer")
        admin = {"Authorization": f"Bearer {app.state.tokens.create('admin')[0]}"}
        with TestClient(app) as browser:
            with app.state.users.hashing_slot():  # the one slot is taken (a sign-in in flight)
                busy = sign_in(browser, "rita")
                assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
                new_user = browser.post("/api/v1/users", json={"username": "sam", "password": PASSWORD, "role": "reviewer"},
                                        headers=admin)
                assert new_user.status_code == 429 and int(new_user.headers["retry-after"]) >= 1
            assert sign_in(browser, "rita").status_code == 303
