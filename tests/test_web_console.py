"""Review console through the real app (TestClient): plain evidence, claims, escalation, nothing lost,
decision reasons, the queue at scale, wellness policy.  Image cases only (no language models: fast)."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from crossmatch.api.app import create_app
from crossmatch.review import plain
from crossmatch.review.demo import clone_cases, seed_demo
from crossmatch.settings import Settings

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One seeded installation per module (seeding hashes posters: seconds); each test gets a copy of it."""
    home = tmp_path_factory.mktemp("template") / "home"
    settings = Settings.load(home=home, workers=1, deep_scan=False, service={"background_workers": False, "secret_key": "x" * 40})
    app = create_app(settings)
    seed_demo(app.state, password=PASSWORD, posters=4, text=False)
    for name, role in (("bob", "reviewer"), ("sen", "senior"), ("sue", "senior"), ("root", "admin"), ("cura", "curator")):
        app.state.users.create(name, PASSWORD, role)
    app.state.ctx.close()
    return home


@pytest.fixture
def make_app(template: Path, tmp_path: Path):
    made = []

    def make(name: str = "home", **review):
        home = tmp_path / name
        shutil.copytree(template, home)
        settings = Settings.load(home=home, workers=1, deep_scan=False, review=review,
                                 service={"background_workers": False, "secret_key": "x" * 40})
        made.append(create_app(settings))
        return made[-1]

    yield make
    for app in made:
        app.state.ctx.close()


@pytest.fixture
def app(make_app):
    return make_app()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(app, user: str = "reviewer") -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/signin").text)
    client.post("/signin", data={"username": user, "password": PASSWORD, "csrf": token, "next": "/queue"})
    return client


def cases(app) -> list[int]:
    return [c.id for c in app.state.review.list_cases(sort="age")]


# -- evidence in plain words (one module every view uses) ------------------------------------
def match(signal_type: str, evidence: dict, distance=None, score=None, threshold=31.0, strength=0.8, item_id=1, item="poster-00"):
    return SimpleNamespace(bank="posters", bank_item_id=item_id, bank_item=item, item_labels={"summary": "An English gist"},
                           signal_type=signal_type, evidence=evidence, distance=distance, score=score, threshold=threshold,
                           strength=strength)


def test_plain_sentences_per_signal_type() -> None:
    mirrored = plain.describe(match("pdq", {"query_meta": {"variant": "mirrored", "query_only": True}}, distance=16))
    assert mirrored.sentence == "Mirrored copy of the bank image, 16 of 256 bits differ (limit 31)"
    crop = plain.describe(match("pdq", {"query_meta": {"variant": "original"}, "bank_region": "centre:60", "bank_box": [0, 0, 5, 5]}, distance=9))
    assert crop.sentence.startswith("A 60% crop of the bank image matched (bank-side crop)")
    ocr = plain.describe(match("text_xling", {"source": "ocr", "bank_coverage": 0.8, "aligned": [
        {"query_lang": "ru", "bank_lang": "en", "query_start": i, "query_end": i + 1, "bank_chunk": i, "query_text": "x"} for i in range(4)]},
        score=2.3, threshold=0.12), case_kind="image")
    assert ocr.sentence == "Text read from the image (OCR, Russian), aligned with 4 of 5 sentences of the bank text (English)"
    video = plain.describe(match("vpdq", {"query_ranges": [[3.0, 23.0]], "bank_ranges": [[40.0, 60.0]],
                                          "matched_query_frames": 20, "query_frames": 24}, distance=4, score=0.9))
    assert video.sentence.startswith("Seconds 40–60 of the bank video appear at 0:03–0:23 of the upload")
    assert video.ranges == [(40.0, 60.0, 3.0, 23.0)]
    arabic = plain.describe(match("text_xling", {"aligned": [{"query_lang": "ar", "bank_lang": "en", "bank_chunk": 0, "query_text": "نص"}]}, score=1.0))
    assert arabic.passages[0].query_dir == "rtl" and arabic.passages[0].bank_dir == "ltr"
    assert plain.describe(match("newtype", {}, distance=3.0, threshold=5.0)).sentence == "Matched by newtype: distance 3 (limit 5)"


def test_one_card_per_bank_item_with_the_agreeing_types_and_one_scale() -> None:
    exact = [match(t, {}, distance=0.0, threshold=0.0, strength=1.0) for t in ("md5", "sha256", "sha512")]
    pdq = match("pdq", {"query_meta": {"variant": "original"}}, distance=0, strength=1.0)
    other = match("pdq", {"query_meta": {"variant": "mirrored"}}, distance=28, strength=0.55, item_id=2, item="poster-01")
    [first, second] = plain.cards(exact + [pdq, other])
    assert first.bank_item == "poster-00" and first.kinds == ["Exact file", "Picture fingerprint (PDQ)"]
    assert len(first.evidence) == 2 and "MD5, SHA-256, SHA-512 all equal" in first.evidence[0].sentence
    assert first.strength_word == "very strong" and second.strength_word == "weak (near the limit)"
    assert first.summary == "An English gist"


def test_case_page_reads_in_plain_words_with_raw_figures_behind_details(app) -> None:
    client = signed_in(app)
    flipped = next(c.id for c in app.state.review.list_cases() if "flipped" in c.item)
    page = client.get(f"/cases/{flipped}").text
    assert "Mirrored copy of the bank image" in page and "of 256 bits differ (limit 31)" in page
    assert "Match strength:" in page and "<summary>Details: raw figures</summary>" in page
    assert "query meta" not in page.split("<details>")[0]  # engineers' keys only behind the toggle
    assert page.count('class="match"') == 1  # one card per bank item


# -- claims ---------------------------------------------------------------------------------
def test_start_reviewing_follows_the_queue_order_and_next_keeps_its_place(app) -> None:
    client = signed_in(app)
    order = [c.id for c in app.state.review.list_cases(sort="severity")]
    page = client.get("/queue?sort=severity")
    assert 'id="start-reviewing"' in page.text
    started = client.post("/queue/start", data={"csrf": csrf_of(page.text), "sort": "severity", "status": "pending"}, follow_redirects=False)
    assert started.headers["location"].startswith(f"/cases/{order[0]}?")
    assert app.state.review.get_case(order[0]).claimed_by == "reviewer"
    assert all(app.state.review.get_case(i).claimed_by is None for i in order[1:])
    # Browsing holds nothing.
    for case_id in order[1:]:
        client.get(f"/cases/{case_id}?sort=severity")
    assert all(app.state.review.get_case(i).claimed_by is None for i in order[1:])
    done = client.post(f"/cases/{order[1]}/decide", data={"csrf": csrf_of(page.text), "decision": "confirm", "sort": "severity"},
                       follow_redirects=False)
    assert done.headers["location"].startswith(f"/cases/{order[2]}?")  # the case after it, not the head of the queue


def test_admin_can_release_any_claim(app) -> None:
    client = signed_in(app)
    case_id = cases(app)[0]
    page = client.get(f"/cases/{case_id}").text
    client.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(page)})
    admin = signed_in(app, "root")
    seen = admin.get(f"/cases/{case_id}").text
    assert "Release reviewer&#39;s claim (admin)" in seen or "Release reviewer's claim (admin)" in seen
    admin.post(f"/cases/{case_id}/release", data={"csrf": csrf_of(seen)})
    assert app.state.review.get_case(case_id).claimed_by is None


def test_idle_claims_lapse_after_the_configured_time(make_app) -> None:
    app = make_app(claim_minutes=0)
    client = signed_in(app)
    case_id = cases(app)[0]
    page = client.get(f"/cases/{case_id}").text
    client.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(page)})
    bob = signed_in(app, "bob")
    assert "being reviewed by" not in bob.get(f"/cases/{case_id}").text  # lapsed at once: free for bob


# -- escalation -------------------------------------------------------------------------------
def test_escalation_needs_a_reason_goes_to_seniors_and_the_escalator_cannot_decide(app) -> None:
    client = signed_in(app)
    case_id = cases(app)[0]
    page = client.get(f"/cases/{case_id}").text
    no_reason = client.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(page), "decision": "escalate", "reason": "satire"})
    assert no_reason.status_code == 422 and "escalating needs a reason" in no_reason.text
    assert 'value="satire" selected' in no_reason.text  # the form comes back filled in
    client.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(page), "decision": "escalate", "note": "looks like a parody"})
    assert app.state.review.get_case(case_id).status == "escalated"
    queue = client.get("/escalations").text
    assert f"/cases/{case_id}?" in queue and "looks like a parody" in queue
    own = client.get(f"/cases/{case_id}").text
    assert "you escalated case" in own and 'id="decide"' not in own
    refused = client.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(page), "decision": "confirm"})
    assert refused.status_code == 409 and app.state.review.get_case(case_id).status == "escalated"
    bob = signed_in(app, "bob")
    assert "a senior reviewer decides it" in bob.get(f"/cases/{case_id}").text
    senior = signed_in(app, "sen")
    spage = senior.get(f"/cases/{case_id}").text
    assert 'id="decide"' in spage
    senior.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(spage), "decision": "reject", "reason": "satire", "note": "parody"})
    assert app.state.review.get_case(case_id).status == "rejected"
    # A senior reopens the decision; the history and the audit keep what happened.
    other = signed_in(app, "sue")
    opage = other.get(f"/cases/{case_id}").text
    assert "Reopen the decision" in opage and "Reopen the decision" not in client.get(f"/cases/{case_id}").text
    other.post(f"/cases/{case_id}/reopen", data={"csrf": csrf_of(opage), "note": "new context from the platform"})
    case = app.state.review.get_case(case_id)
    assert case.status == "open" and [d.decision for d in case.decisions] == ["escalate", "reject", "reopen"]
    assert [r.action for r in app.state.audit.query(action="case.reopen")] == ["case.reopen"]


# -- nothing lost -----------------------------------------------------------------------------
def test_a_decision_sent_on_an_expired_session_is_refilled_after_sign_in(app) -> None:
    client = signed_in(app)
    case_id = cases(app)[1]
    page = client.get(f"/cases/{case_id}").text
    client.cookies.clear()  # the session expired while the reviewer read the case
    sent = client.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(page), "decision": "reject",
                                                       "note": "a news report about the poster", "reason": "news_reporting"},
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/signin?next=")
    signin = client.get(sent.headers["location"]).text
    assert "Your session expired before your <strong>reject</strong> on case" in signin
    back = client.post("/signin", data={"username": "reviewer", "password": PASSWORD, "csrf": csrf_of(signin),
                                        "next": re.search(r'name="next" value="([^"]+)"', signin).group(1).replace("&amp;", "&")},
                       follow_redirects=False)
    assert back.headers["location"].startswith(f"/cases/{case_id}")
    refilled = client.get(back.headers["location"]).text
    assert "was <strong>not recorded</strong>" in refilled and "a news report about the poster</textarea>" in refilled
    assert 'value="news_reporting" selected' in refilled
    assert app.state.review.get_case(case_id).status == "open"  # nothing applied without the reviewer's click
    client.post(f"/cases/{case_id}/decide", data={"csrf": csrf_of(refilled), "decision": "reject", "reason": "news_reporting",
                                                  "note": "a news report about the poster"})
    assert app.state.review.get_case(case_id).decisions[0].note == "a news report about the poster"


# -- reasons and reports ----------------------------------------------------------------------
def test_reasons_can_be_required_are_counted_and_exported(make_app) -> None:
    app = make_app(require_reason=True)
    client = signed_in(app)
    first, second = cases(app)[:2]
    page = client.get(f"/cases/{first}").text
    assert '<select id="reason" name="reason" required>' in page and "Counter-speech" in page
    missing = client.post(f"/cases/{first}/decide", data={"csrf": csrf_of(page), "decision": "reject", "note": "kept"})
    assert missing.status_code == 422 and "choose a reason" in missing.text and ">kept</textarea>" in missing.text
    client.post(f"/cases/{first}/decide", data={"csrf": csrf_of(page), "decision": "reject", "reason": "counter_speech"})
    client.post(f"/cases/{second}/decide", data={"csrf": csrf_of(page), "decision": "confirm", "reason": "terrorist_content_propaganda"})
    report = signed_in(app, "sen").get("/reports").text
    assert re.search(r"<td>reject</td><td>Counter-speech</td><td>1</td>", report)
    exported = signed_in(app, "cura").get("/reports/decisions.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["case_id"], r["reason"]) for r in rows} == {(str(first), "counter_speech"), (str(second), "terrorist_content_propaganda")}
    assert all(r["confirmed_count"] != "" for r in rows)  # beside the bank items' opinion counts
    assert app.state.review.get_case(second).decisions[0].reason == "terrorist_content_propaganda"


# -- queue ------------------------------------------------------------------------------------
def test_queue_totals_paging_severity_words_relative_ages(app) -> None:
    clone_cases(app.state, cases(app)[0], 120)
    client = signed_in(app)
    first = client.get("/queue").text
    assert "<strong>124</strong> cases; showing 1–50" in first and "page 1 of 3" in first
    assert ">high</td>" in first and re.search(r">(just now|\d+ minutes? ago)</time>", first) and "3/4" not in first
    last = client.get("/queue?page=2").text
    assert "showing 101–124" in last and "next page" not in last


# -- wellness ---------------------------------------------------------------------------------
def test_organisation_policy_bounds_reveal_and_blur_and_prompts_a_break(make_app) -> None:
    app = make_app(wellness={"allow_reveal": False, "blur": 10, "break_after": 2})
    client = signed_in(app)
    case_id = cases(app)[0]
    page = client.get(f"/cases/{case_id}").text
    assert "your organisation keeps media blurred" in page and 'class="reveal"' not in page
    assert client.get(f"/cases/{case_id}/media?clear=1").status_code == 403
    assert "Show media unblurred by default" not in client.get("/queue").text
    strong = Image.open(io.BytesIO(client.get(f"/cases/{case_id}/media?clear=0").content))
    assert strong.mode == "L"
    page = client.get(f"/cases/{cases(app)[1]}").text
    assert "Consider a short break" in page  # two cases opened today, break_after=2
    light = make_app("light", wellness={"blur": 1, "greyscale": False})
    lclient = signed_in(light)
    soft = Image.open(io.BytesIO(lclient.get(f"/cases/{cases(light)[0]}/media?clear=0").content))
    assert soft.mode == "RGB"
    from tests.test_web import detail

    assert detail(soft) > detail(strong)  # the blur strength follows the policy


def test_an_item_severity_label_is_not_overridden_by_its_bank() -> None:
    from crossmatch.review.evidence import item_severity

    assert item_severity({"severity": "high"}, {"severity": "low"}) == 1
    assert item_severity({"severity": "high"}, {"entity": "x"}) == 3
    assert plain.severity_word(item_severity({"severity": "critical"}, {})) == "critical"


def test_blurred_previews_are_cached_and_removed_with_the_preview(app, tmp_path) -> None:
    from crossmatch.review.media import blurred_cached, remove_preview

    client = signed_in(app)
    case_id = cases(app)[0]
    first = client.get(f"/cases/{case_id}/media?clear=0").content
    kept = Path(app.state.review.get_case(case_id).media_path)
    cached = kept.with_name(f"{kept.stem}.blur4g{kept.suffix}")  # the default policy: blur 4, greyscale
    assert cached.read_bytes() == first == client.get(f"/cases/{case_id}/media?clear=0").content
    own = tmp_path / "case-x.jpg"  # removal on a copy: the kept preview above belongs to the shared template
    shutil.copy(kept, own)
    blurred_cached(own, 7, False)
    assert (tmp_path / "case-x.blur7c.jpg").exists()
    remove_preview(own)
    assert list(tmp_path.glob("case-x*")) == []
