"""Review service on SQLite and PostgreSQL: cases from real scans, claims, decisions, feedback, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from crossmatch import samples
from crossmatch.actions.service import ActionService
from crossmatch.audit.service import AuditLog
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import Context, open_context
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.review.service import ReviewService, utcnow
from crossmatch.settings import Settings
from crossmatch.signals.base import Content

KNOWN_TEXT = (
    "The harbour festival opens on Friday with music, boats and lanterns along the old quay. "
    "Families gather to watch the parade of decorated fishing boats. "
    "Local bakers sell sweet bread and the evening ends with fireworks over the water."
)
QUERY_TEXT = (
    "Repost: The harbour festival opens on Friday with music, boats and lanterns along the old quay. "
    "Families gather to watch the parade of decorated fishing boats."
)


@pytest.fixture
def rctx(tmp_path: Path, database_url: str | None) -> Iterator[Context]:
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1, keep_media=True,
                             deep_scan=False, media_retention_days=7)
    with open_context(settings) as context:
        yield context


@pytest.fixture
def review(rctx: Context) -> ReviewService:
    return ReviewService(rctx.sessions, rctx.banks, AuditLog(rctx.sessions),
                         ActionService(rctx.sessions, rctx.settings, rctx.banks), rctx.settings)


def _image_bank(ctx: Context) -> bytes:
    ctx.banks.create_bank(BankSpec(name="posters", labels={"severity": "high"}))
    ctx.banks.create_bank(BankSpec(name="benign", kind="allow"))
    poster = samples.make_poster(1000)
    signals = ctx.engine.hash(Content("poster-0", "image", data=samples.to_bytes(poster))).signals
    ctx.banks.upsert_items("posters", [ItemUpsert("poster-0", list(signals), {"entity": "Sample group"}, "image")])
    return samples.to_bytes(samples.EDITS["greyscale"](poster))


def _scan_case(ctx: Context, review: ReviewService, data: bytes, item: str = "upload-1.jpg") -> int:
    content = Content(item, "image", data=data)
    result = ctx.engine.scan(content, deep=False)
    case_id = review.open_case(result, content, submission_id="sub-1", source="tests")
    assert case_id is not None, result.to_json()
    return case_id


def test_image_case_keeps_preview_and_evidence(rctx: Context, review: ReviewService) -> None:
    case_id = _scan_case(rctx, review, _image_bank(rctx))
    case = review.get_case(case_id)
    assert case.status == "open" and case.severity == 3 and case.bank == "posters"
    assert case.bank_labels == "Sample group"
    pdq = [m for m in case.matches if m.signal_type == "pdq"]
    assert pdq and pdq[0].distance <= pdq[0].threshold and pdq[0].evidence
    preview = review.media_file(case_id)
    assert preview is not None and preview.stat().st_size > 0
    assert case.media_expires_at is not None
    # Content without block matches opens no case.
    other = Content("other.txt", "text", text="A short note about the weather on the coast today.")
    assert review.open_case(rctx.engine.scan(other, deep=False), other, None, None) is None


def test_no_media_kept_unless_opted_in(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "plain", workers=1, deep_scan=False)
    assert settings.keep_media is False
    with open_context(settings) as ctx:
        service = ReviewService(ctx.sessions, ctx.banks, None, None, settings)
        case_id = _scan_case(ctx, service, _image_bank(ctx))
        assert service.get_case(case_id).media_path is None
        assert service.media_file(case_id) is None
        assert not (settings.home / "review-media").exists()


def test_text_case_stores_aligned_query_passages(rctx: Context, review: ReviewService) -> None:
    rctx.banks.create_bank(BankSpec(name="texts"))
    signals = rctx.engine.hash(Content("known", "text", text=KNOWN_TEXT)).signals
    rctx.banks.upsert_items("texts", [ItemUpsert("text-0", list(signals), {"severity": "critical", "language": "en"}, "text")])
    content = Content("post-9", "text", text=QUERY_TEXT)
    case_id = review.open_case(rctx.engine.scan(content), content, None, None)
    case = review.get_case(case_id)
    assert case.severity == 4 and case.language == "en"
    snippets = [p["query_text"] for m in case.matches for p in m.evidence.get("aligned", [])]
    snippets += [m.evidence["query_text"] for m in case.matches if "query_text" in m.evidence]
    assert any("parade of decorated fishing boats" in s for s in snippets)
    assert all(len(s) < len(QUERY_TEXT) + 2 for s in snippets)  # spans, not the whole document


def test_claim_conflict_expiry_and_release(rctx: Context, review: ReviewService) -> None:
    case_id = _scan_case(rctx, review, _image_bank(rctx))
    assert review.claim(case_id, "alice").claimed_by == "alice"
    assert review.claim(case_id, "alice").claimed_by == "alice"  # renewing your own claim is fine
    with pytest.raises(Conflict, match="alice"):
        review.claim(case_id, "bob")
    with pytest.raises(Conflict, match="alice"):
        review.release(case_id, "bob")
    with pytest.raises(Conflict):
        review.decide(case_id, "bob", "confirm", "")
    # An expired claim no longer blocks others.
    from sqlalchemy import update
    from crossmatch.review.models import Case
    with rctx.sessions.begin() as session:
        session.execute(update(Case).where(Case.id == case_id).values(claimed_until=utcnow() - timedelta(minutes=1)))
    assert review.claim(case_id, "bob").claimed_by == "bob"
    review.release(case_id, "bob")
    assert review.get_case(case_id).claimed_by is None
    with pytest.raises(NotFound):
        review.claim(999_999, "bob")


def test_decide_feeds_back_and_is_final(rctx: Context, review: ReviewService) -> None:
    data = _image_bank(rctx)
    first = _scan_case(rctx, review, data, "a.jpg")
    second = _scan_case(rctx, review, data, "b.jpg")
    actions = ActionService(rctx.sessions, rctx.settings, rctx.banks)
    actions.create_webhook("sink", "http://127.0.0.1:9/hook", ["decision"])
    with pytest.raises(Conflict, match="claim case"):
        review.decide(first, "alice", "confirm", "")
    review.claim(first, "alice")
    with pytest.raises(InvalidInput, match="decision must be"):
        review.decide(first, "alice", "delete", "")
    row = review.decide(first, "alice", "confirm", "same poster, greyscaled")
    assert row.actor == "alice" and row.note == "same poster, greyscaled"
    [action] = [actions.get_action(i) for i in row.action_ids]
    assert action["event"] == "decision" and action["case_id"] == first
    assert action["payload"]["decision"] == "confirm" and action["payload"]["matches"][0]["bank"] == "posters"
    item, _ = rctx.banks.get_item("posters", "poster-0")
    assert (item.confirmed_count, item.rejected_count) == (1, 0)
    case = review.get_case(first)
    assert case.status == "confirmed" and case.claimed_by is None and case.decided_at is not None
    with pytest.raises(Conflict, match="already confirmed by alice"):
        review.claim(first, "bob")
    # Escalation keeps the case decidable and records no opinion.
    review.claim(second, "bob")
    review.decide(second, "bob", "escalate", "not sure")
    assert review.get_case(second).status == "escalated"
    with pytest.raises(Conflict, match="a senior reviewer decides it"):
        review.claim(second, "carol")  # a reviewer cannot take an escalated case
    with pytest.raises(Conflict, match="you escalated"):
        review.claim(second, "bob", "senior")  # nor can the one who escalated it, even a senior
    review.claim(second, "carol", "senior")
    review.decide(second, "carol", "reject", "benign poster", role="senior")
    item, _ = rctx.banks.get_item("posters", "poster-0")
    assert (item.confirmed_count, item.rejected_count) == (1, 1)
    assert [d.decision for d in review.get_case(second).decisions] == ["escalate", "reject"]
    audit = AuditLog(rctx.sessions).query(action="case.")
    assert {(r.actor, r.action) for r in audit} >= {("alice", "case.confirm"), ("carol", "case.reject")}


def test_reject_to_allow_bank_suppresses_future_matches(rctx: Context, review: ReviewService) -> None:
    data = _image_bank(rctx)
    case_id = _scan_case(rctx, review, data)
    review.claim(case_id, "alice")
    with pytest.raises(InvalidInput, match="only a rejected case"):
        review.decide(case_id, "alice", "confirm", "", add_to_allow_bank="benign")
    with pytest.raises(InvalidInput, match="block bank"):
        review.decide(case_id, "alice", "reject", "", add_to_allow_bank="posters")
    review.decide(case_id, "alice", "reject", "known benign poster", add_to_allow_bank="benign")
    with pytest.raises(NotFound):  # a proposal until a curator approves it
        rctx.banks.get_item("benign", f"case-{case_id}")
    [proposal] = review.proposals("proposed")
    review.approve_proposal(proposal.id, "curt")
    item, signals = rctx.banks.get_item("benign", f"case-{case_id}")
    assert item.labels["case"] == case_id and {s.type for s in signals} >= {"pdq"}
    again = Content("again.jpg", "image", data=data)
    result = rctx.engine.scan(again, deep=False)
    assert not result.matches and result.suppressed  # the allow bank now suppresses it
    assert review.open_case(result, again, None, None) is None


def test_list_sorts_and_filters(rctx: Context, review: ReviewService) -> None:
    data = _image_bank(rctx)
    ids = [_scan_case(rctx, review, data, f"{i}.jpg") for i in range(3)]
    assert [c.id for c in review.list_cases(sort="age")] == ids
    assert len(review.list_cases(bank="posters")) == 3 and review.list_cases(bank="other") == []
    review.claim(ids[0], "alice")
    review.decide(ids[0], "alice", "confirm", "")
    assert [c.id for c in review.list_cases(status="pending")] == ids[1:]
    assert [c.id for c in review.list_cases(status="confirmed")] == ids[:1]
    for sort in ("severity", "score", "bank"):
        assert len(review.list_cases(sort=sort)) == 2
    with pytest.raises(InvalidInput, match="sort must be"):
        review.list_cases(sort="random")


def test_purge_expired_media_and_preferences(rctx: Context, review: ReviewService) -> None:
    case_id = _scan_case(rctx, review, _image_bank(rctx))
    path = review.media_file(case_id)
    assert path is not None
    assert review.purge_expired_media() == 0 and path.exists()
    assert review.purge_expired_media(now=utcnow() + timedelta(days=8)) == 1
    assert not path.exists() and review.media_file(case_id) is None
    assert review.get_case(case_id).media_path is None
    assert review.reveal_by_default("alice") is False
    review.set_reveal_by_default("alice", True)
    assert review.reveal_by_default("alice") is True and review.reveal_by_default("bob") is False


def _video(seconds: int = 4, fps: int = 5) -> bytes:
    av = pytest.importorskip("av", reason="video previews need the video extra (av)")
    import io

    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width, stream.pix_fmt = 120, 160, "yuv420p"
        for i in range(seconds * fps):
            frame = np.asarray(samples.make_poster(2000 + i // fps, size=(160, 120)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_video_case_keeps_a_contact_sheet(tmp_path: Path) -> None:
    from PIL import Image

    data = _video()
    settings = Settings.load(home=tmp_path / "v", workers=1, keep_media=True, deep_scan=False)
    with open_context(settings) as ctx:
        service = ReviewService(ctx.sessions, ctx.banks, None, None, settings)
        ctx.banks.create_bank(BankSpec(name="clips"))
        signals = ctx.engine.hash(Content("clip", "video", data=data)).signals
        ctx.banks.upsert_items("clips", [ItemUpsert("clip-0", list(signals), {}, "video")])
        content = Content("reupload.mp4", "video", data=data)
        case_id = service.open_case(ctx.engine.scan(content, deep=False), content, None, None)
        path = service.media_file(case_id)
        assert path is not None, service.get_case(case_id).warnings
        with Image.open(path) as sheet:
            assert sheet.width >= 2 * 240  # several frames side by side


def test_concurrent_claims_have_one_winner(rctx: Context, review: ReviewService) -> None:
    import threading

    case_id = _scan_case(rctx, review, _image_bank(rctx))
    names = [f"reviewer-{i}" for i in range(6)]
    barrier = threading.Barrier(len(names))
    won: list[str] = []
    lost: list[str] = []

    def take(name: str) -> None:
        barrier.wait()
        try:
            review.claim(case_id, name)
            won.append(name)
        except Conflict:
            lost.append(name)

    threads = [threading.Thread(target=take, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(won) == 1 and len(lost) == len(names) - 1
    assert review.get_case(case_id).claimed_by == won[0]
