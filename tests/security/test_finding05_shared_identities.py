"""Issue 15 finding 5: identities are keyed by token id or username, never by a token's name.

Before the fix, ownership, idempotency keys, claims and audit actors used the token
*name*, which was not unique (default ``<role>-token``): two default-named tokens
shared submissions, a reused Idempotency-Key returned another client's submission
(so the second client's content was never scanned), and a reviewer token could
decide a case claimed by another token or by the web user of the same name.
All through HTTP, on SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from crossmatch import samples
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.signals.base import Content
from test_api_support import BACKENDS, Api, running_api, unique


@pytest.fixture(scope="module", params=BACKENDS)
def api(request, tmp_path_factory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("home"), request.param) as running:
        yield running


def _token(api: Api, role: str, name: str | None = None):
    body = {"role": role} if name is None else {"role": role, "name": name}
    return api.client.post("/api/v1/tokens", json=body, headers=api.h("admin"))


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _open_case(api: Api) -> int:
    """A real case: a poster in a block bank, its greyscale edit scanned."""
    ctx = api.state.ctx
    bank = unique("posters")
    ctx.banks.create_bank(BankSpec(name=bank))
    poster = samples.make_poster(1500)
    signals = ctx.engine.hash(Content("poster", "image", data=samples.to_bytes(poster))).signals
    ctx.banks.upsert_items(bank, [ItemUpsert("poster", list(signals), {}, "image")])
    content = Content("upload.jpg", "image", data=samples.to_bytes(samples.EDITS["greyscale"](poster)))
    case_id = api.state.review.open_case(ctx.engine.scan(content, deep=False), content)
    assert case_id is not None
    return case_id


def test_default_named_tokens_are_distinct_and_names_are_unique(api: Api) -> None:
    first, second = _token(api, "matcher"), _token(api, "matcher")
    assert first.status_code == second.status_code == 201
    assert first.json()["name"] != second.json()["name"]
    name = unique("platform")
    assert _token(api, "matcher", name).status_code == 201
    again = _token(api, "matcher", name)
    assert again.status_code == 409 and name in again.json()["detail"]
    user = unique("u")
    body = {"username": user, "password": "a long enough password", "role": "reviewer"}
    assert api.client.post("/api/v1/users", json=body, headers=api.h("admin")).status_code == 201
    assert api.client.post("/api/v1/users", json=body, headers=api.h("admin")).status_code == 409


def test_a_reused_idempotency_key_from_another_client_is_a_new_scanned_submission(api: Api) -> None:
    one, two = (_bearer(_token(api, "matcher").json()["token"]) for _ in range(2))
    key = unique("key")
    first = api.client.post("/api/v1/submissions", json={"text": "first client's words"}, headers={**one, "Idempotency-Key": key})
    second = api.client.post("/api/v1/submissions", json={"text": "second client's other words"}, headers={**two, "Idempotency-Key": key})
    assert first.status_code == 202 and second.status_code == 202  # new, not client one's answer
    assert second.json()["id"] != first.json()["id"]
    # Each client sees only its own submission; its own retry still gets the first answer.
    assert api.client.get(f"/api/v1/submissions/{first.json()['id']}", headers=two).status_code == 404
    assert api.client.get(f"/api/v1/submissions/{second.json()['id']}", headers=one).status_code == 404
    retry = api.client.post("/api/v1/submissions", json={"text": "second client's other words"}, headers={**two, "Idempotency-Key": key})
    assert retry.status_code == 200 and retry.json()["id"] == second.json()["id"]
    # The second client's content is the one queued for scanning under its submission.
    while api.state.submissions.process_next():
        pass
    done = api.client.get(f"/api/v1/submissions/{second.json()['id']}", headers=two).json()
    assert done["status"] == "done" and done["item"] == first.json()["item"] == "text"


def test_a_reviewer_token_cannot_decide_a_case_another_token_claimed(api: Api) -> None:
    case_id = _open_case(api)
    one, two = (_bearer(_token(api, "reviewer").json()["token"]) for _ in range(2))
    assert api.client.post(f"/api/v1/cases/{case_id}/claim", headers=one).status_code == 200
    assert api.client.post(f"/api/v1/cases/{case_id}/claim", headers=two).status_code == 409
    stolen = api.client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "reject"}, headers=two)
    assert stolen.status_code == 409 and api.state.review.get_case(case_id).status == "open"
    mine = api.client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "confirm"}, headers=one)
    assert mine.status_code == 200 and mine.json()["actor"].startswith("token:")


def test_a_token_named_like_a_web_user_cannot_act_as_that_user(api: Api) -> None:
    case_id = _open_case(api)
    alice = unique("alice")
    api.state.users.create(alice, "a long enough password", "reviewer")
    with api.client as web:
        web.cookies.set("crossmatch_session", api.session_cookie(alice, "reviewer"))
        try:
            claimed = web.post(f"/api/v1/cases/{case_id}/claim", headers={"X-CSRF-Token": "test-csrf"})
            assert claimed.status_code == 200 and claimed.json()["claimed_by"] == alice
        finally:
            web.cookies.clear()
    impostor = _token(api, "reviewer", alice)
    assert impostor.status_code == 201  # a token may carry any name ...
    headers = _bearer(impostor.json()["token"])
    decided = api.client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "reject"}, headers=headers)
    assert decided.status_code == 409 and alice in decided.json()["detail"]  # ... but it is not alice
    released = api.client.post(f"/api/v1/cases/{case_id}/release", headers=headers)
    assert released.status_code == 409 and api.state.review.get_case(case_id).claimed_by == alice
    # Nor can a web user take a token's identity: usernames may not contain ':'.
    bad = api.client.post("/api/v1/users", json={"username": f"token:1:{alice}", "password": "a long enough password",
                                                 "role": "reviewer"}, headers=api.h("admin"))
    assert bad.status_code == 422
