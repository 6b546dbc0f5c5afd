"""Review web UI through the real app (TestClient): sign-in, CSRF, blurred media, reveal, decisions."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageFilter, ImageStat

from crossmatch.api.app import create_app
from crossmatch.review.demo import ALLOW_BANK, POSTER_BANK, seed_demo
from crossmatch.settings import Settings

PASSWORD = "correct-horse-battery"
WITH_TEXT = pytest.mark.parametrize("app", ["with_text"], indirect=True)


@pytest.fixture
def app(request, tmp_path: Path):
    settings = Settings.load(home=tmp_path / "home", workers=1, deep_scan=False,
                             service={"background_workers": False, "secret_key": "x" * 40})
    app = create_app(settings)
    # The text case loads language models (seconds); only tests that ask for it (WITH_TEXT) get it.
    demo = seed_demo(app.state, password=PASSWORD, posters=3, text=getattr(request, "param", "") == "with_text")
    app.state.demo = demo
    app.state.users.create("bob", PASSWORD, "reviewer")
    app.state.users.create("root", PASSWORD, "admin")
    app.state.users.create("cura", PASSWORD, "curator")
    yield app
    app.state.ctx.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, user: str = "reviewer", password: str = PASSWORD):
    token = csrf_of(client.get("/signin").text)
    answer = client.post("/signin", data={"username": user, "password": password, "csrf": token, "next": "/queue"},
                         follow_redirects=False)
    # What /static/csrf.js does in the browser: the session's CSRF token on every fetch() to the JSON routes.
    client.headers["X-CSRF-Token"] = client.cookies.get("crossmatch_csrf") or ""
    return answer


def image_cases(app) -> list[int]:
    return [c.id for c in app.state.review.list_cases(sort="age") if c.kind == "image"]


def detail(img: Image.Image) -> float:
    """Mean high-frequency energy: how much a light blur changes the image."""
    grey = img.convert("L")
    return ImageStat.Stat(ImageChops.difference(grey, grey.filter(ImageFilter.GaussianBlur(2)))).mean[0]


@WITH_TEXT
def test_sign_in_required_and_audited(app, client: TestClient) -> None:
    first = client.get("/queue", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/signin")
    assert client.get("/api/v1/cases").status_code == 401
    bad = sign_in(client, password="wrong-password-here")
    assert bad.status_code == 401 and "wrong password" in bad.text
    no_csrf = client.post("/signin", data={"username": "reviewer", "password": PASSWORD}, follow_redirects=False)
    assert no_csrf.status_code == 403 and "reload the page" in no_csrf.text
    ok = sign_in(client)
    assert ok.status_code == 303 and ok.headers["location"] == "/queue"
    queue = client.get("/queue")
    assert queue.status_code == 200 and "upload-00-greyscale.jpg" in queue.text and "post-ru-0001" in queue.text
    actions = [(r.actor, r.action) for r in app.state.audit.query(action="auth.")]
    assert ("reviewer", "auth.signin") in actions and ("reviewer", "auth.signin_failed") in actions
    client.post("/signout", data={"csrf": csrf_of(queue.text)})
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_preview_blurred_by_default_and_reveal_is_audited(app, client: TestClient) -> None:
    sign_in(client)
    case_id = image_cases(app)[0]
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    img_tag = re.search(r'<img id="media-query"[^>]*>', page.text).group(0)
    assert 'class="media blurred"' in img_tag and f"/cases/{case_id}/media?clear=0" in img_tag
    assert "Reveal" in page.text and "bank item poster-00" in page.text
    blurred = client.get(f"/cases/{case_id}/media?clear=0")
    assert blurred.status_code == 200 and blurred.headers["cache-control"].startswith("no-store")
    assert not app.state.audit.query(action="media.reveal")  # looking at the blurred version is not a reveal
    clear = client.get(f"/cases/{case_id}/media?clear=1")
    b_img, c_img = Image.open(io.BytesIO(blurred.content)), Image.open(io.BytesIO(clear.content))
    assert b_img.mode == "L" and c_img.mode == "RGB"
    assert detail(b_img) < detail(c_img) / 5  # detail is gone, not just colour
    assert [r.target for r in app.state.audit.query(action="media.reveal")] == [f"case:{case_id}"]
    # A reviewer may choose to see media unblurred by default.
    client.post("/preferences", data={"csrf": csrf_of(page.text), "reveal_media": "1"})
    again = client.get(f"/cases/{case_id}")
    img_tag = re.search(r'<img id="media-query"[^>]*>', again.text).group(0)
    assert "blurred" not in img_tag.split("alt=")[0] and "clear=1" in img_tag.split("data-blur-src")[0]


def test_viewing_does_not_claim_starting_does_and_deciding_claims(app, client: TestClient) -> None:
    sign_in(client)
    case_id = image_cases(app)[0]
    page = client.get(f"/cases/{case_id}")
    assert 'data-key="c"' in page.text and "Start reviewing this case" in page.text
    assert app.state.review.get_case(case_id).claimed_by is None  # reading holds nothing
    started = client.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert started.status_code == 303 and app.state.review.get_case(case_id).claimed_by == "reviewer"
    assert "Release claim" in client.get(f"/cases/{case_id}").text
    with TestClient(app) as other:
        sign_in(other, "bob")
        held = other.get(f"/cases/{case_id}")
        assert "being reviewed by reviewer" in held.text and 'id="decide"' not in held.text
        api = other.post(f"/api/v1/cases/{case_id}/claim")
        assert api.status_code == 409 and "reviewer" in api.json()["detail"]
    forged = client.post(f"/cases/{case_id}/decide", data={"decision": "confirm", "csrf": "forged"})
    assert forged.status_code == 403 and app.state.review.get_case(case_id).status == "open"
    done = client.post(f"/cases/{case_id}/decide", data={"decision": "confirm", "note": "same poster", "reason": "terrorist_content",
                                                       "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/cases/")
    case = app.state.review.get_case(case_id)
    assert case.status == "confirmed" and case.decisions[0].actor == "reviewer" and case.decisions[0].note == "same poster"
    assert case.decisions[0].reason == "terrorist_content"
    item, _ = app.state.ctx.banks.get_item(POSTER_BANK, case.matches[0].bank_item)
    assert item.confirmed_count == 1
    again = client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "reject"})
    assert again.status_code == 409 and "already confirmed" in again.json()["detail"]
    # A first action claims too: deciding an unclaimed case straight from the page works.
    second = image_cases(app)[1]
    direct = client.post(f"/cases/{second}/decide", data={"decision": "reject", "reason": "news_reporting", "csrf": csrf_of(page.text)},
                         follow_redirects=False)
    assert direct.status_code == 303 and app.state.review.get_case(second).status == "rejected"


def test_allow_listing_asks_first_is_a_proposal_until_a_curator_approves_and_can_be_undone(app, client: TestClient) -> None:
    sign_in(client)
    case_id = image_cases(app)[1]
    page = client.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/decide?allow_bank={ALLOW_BANK}" in page.text
    asked = client.post(f"/cases/{case_id}/decide?allow_bank={ALLOW_BANK}",
                        data={"decision": "reject", "note": "a museum poster", "csrf": csrf_of(page.text)})
    assert asked.status_code == 200 and "Allow-list this content?" in asked.text and "a museum poster" in asked.text
    assert app.state.review.get_case(case_id).status == "open"  # nothing happened yet
    client.post(f"/cases/{case_id}/decide", data={"decision": "reject", "note": "a museum poster", "allow_bank": ALLOW_BANK,
                                                  "confirm_allow": "1", "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert app.state.review.get_case(case_id).status == "rejected"
    with pytest.raises(Exception):
        app.state.ctx.banks.get_item(ALLOW_BANK, f"case-{case_id}")  # a proposal suppresses nothing
    assert client.post("/allow-proposals/1/approve", data={"csrf": csrf_of(page.text)}).status_code == 403  # reviewers cannot approve
    with TestClient(app) as curator:
        landing = sign_in(curator, "cura")
        assert landing.headers["location"] == "/banks"  # a curator lands where their work is, not on a 403
        listing = curator.get("/allow-proposals")
        assert f"/cases/{case_id}" in listing.text and "a museum poster" in listing.text
        [prop] = app.state.review.proposals("proposed")
        curator.post(f"/allow-proposals/{prop.id}/approve", data={"csrf": csrf_of(listing.text)})
        item, signals = app.state.ctx.banks.get_item(ALLOW_BANK, f"case-{case_id}")
        assert signals and item.labels["added_by"] == "reviewer"
        curator.post(f"/allow-proposals/{prop.id}/undo", data={"csrf": csrf_of(listing.text)})
    with pytest.raises(Exception):
        app.state.ctx.banks.get_item(ALLOW_BANK, f"case-{case_id}")
    assert [r.action for r in app.state.audit.query(action="allow.")] == ["allow.undo", "allow.approve"] or \
        sorted(r.action for r in app.state.audit.query(action="allow.")) == ["allow.approve", "allow.undo"]


def test_json_routes_status_codes(app, client: TestClient) -> None:
    sign_in(client)
    listed = client.get("/api/v1/cases", params={"sort": "severity"}).json()["cases"]
    assert len(listed) == len(app.state.demo.case_ids) and listed[0]["severity"] >= listed[-1]["severity"]
    assert client.get("/api/v1/cases/999999").status_code == 404
    assert client.get("/api/v1/cases", params={"sort": "nope"}).status_code == 422
    case_id = listed[0]["id"]
    assert client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "confirm"}).status_code == 409  # not claimed
    assert client.post(f"/api/v1/cases/{case_id}/claim").json()["claimed_by"] == "reviewer"
    assert client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "maybe"}).status_code == 422
    assert client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "escalate"}).status_code == 422  # reason required
    decided = client.post(f"/api/v1/cases/{case_id}/decision", json={"decision": "escalate", "note": "senior look"})
    assert decided.status_code == 200 and decided.json()["decision"] == "escalate"
    full = client.get(f"/api/v1/cases/{case_id}").json()
    assert full["status"] == "escalated" and full["decisions"][0]["note"] == "senior look" and full["matches"]


@WITH_TEXT
def test_text_case_shows_aligned_passages_with_languages(app, client: TestClient) -> None:
    sign_in(client)
    text_case = next(c for c in app.state.review.list_cases() if c.kind == "text")
    page = client.get(f"/cases/{text_case.id}").text
    assert "Text in Russian, aligned with 3 of 3 sentences of the bank text (English)" in page  # plain words
    assert page.count('lang="ru" dir="ltr">Семьи собираются') == 1  # side by side, each passage once
    assert "Sentence 2 (English)" in page
    assert "Media not retained" not in page  # text cases have no media to retain


def test_bank_curation_roles_and_dead_letter_retry(app, client: TestClient) -> None:
    sign_in(client)
    assert "poster-00" in client.get(f"/banks/{POSTER_BANK}").text
    page = client.get(f"/banks/{POSTER_BANK}").text
    denied = client.post(f"/banks/{POSTER_BANK}/items/poster-00/enabled", data={"csrf": csrf_of(page), "enabled": "0"})
    assert denied.status_code == 403
    with TestClient(app) as curator:
        sign_in(curator, "cura")
        page = curator.get(f"/banks/{POSTER_BANK}").text
        curator.post(f"/banks/{POSTER_BANK}/items/poster-00/enabled", data={"csrf": csrf_of(page), "enabled": "0"})
    assert app.state.ctx.banks.get_item(POSTER_BANK, "poster-00")[0].enabled is False
    assert client.get("/dead-letters").status_code == 403
    actions = app.state.actions
    actions.create_webhook("sink", "http://127.0.0.1:9/none", ["decision"])
    case_id = image_cases(app)[2]
    app.state.review.claim(case_id, "reviewer")
    [action_id] = app.state.review.decide(case_id, "reviewer", "confirm", "").action_ids
    from sqlalchemy import update
    from crossmatch.actions.models import Action
    with app.state.ctx.sessions.begin() as session:  # as the deliverer leaves it after its last attempt
        session.execute(update(Action).where(Action.id == action_id).values(status="dead", last_error="connection refused"))
    with TestClient(app) as admin:
        sign_in(admin, "root")
        page = admin.get("/dead-letters")
        assert "connection refused" in page.text
        admin.post(f"/dead-letters/{action_id}/retry", data={"csrf": csrf_of(page.text)})
    assert actions.get_action(action_id)["status"] == "pending"


def test_submission_through_the_api_opens_a_case(app, client: TestClient) -> None:
    from crossmatch import samples

    token, _ = app.state.tokens.create("matcher", name="platform")
    upload = samples.to_bytes(samples.EDITS["resized"](samples.make_poster(1001)))
    sent = client.post("/api/v1/submissions", files={"file": ("new-upload.jpg", upload, "image/jpeg")},
                       headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 202, sent.text
    submission_id = sent.json()["id"]
    before = set(app.state.demo.case_ids)
    assert app.state.submissions.process_next()  # the server's worker loop does this in the background
    [case] = [c for c in app.state.review.list_cases(limit=500) if c.id not in before]
    assert case.submission_id == str(submission_id) and case.bank == POSTER_BANK
    sign_in(client)
    assert str(submission_id) in client.get(f"/cases/{case.id}").text


def test_a_lapsed_claim_is_renewed_when_deciding_in_the_ui(app, client: TestClient) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from crossmatch.review.models import Case
    from crossmatch.review.service import utcnow

    sign_in(client)
    case_id = image_cases(app)[0]
    page = client.get(f"/cases/{case_id}")
    with app.state.ctx.sessions.begin() as session:  # the reviewer read for longer than the claim lasts
        session.execute(update(Case).where(Case.id == case_id).values(claimed_until=utcnow() - timedelta(minutes=1)))
    assert client.get("/queue").text.count(">reviewer<") == 0  # a lapsed claim holds nothing
    done = client.post(f"/cases/{case_id}/decide", data={"decision": "reject", "csrf": csrf_of(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303 and app.state.review.get_case(case_id).status == "rejected"
