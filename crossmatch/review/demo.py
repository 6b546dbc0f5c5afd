"""A sample review queue for demos and UI tests, built only from generated, benign content.

``seed_demo(app.state)`` (or a Context) makes a block bank of synthetic posters
(crossmatch.samples), an allow bank, a small English text bank, scans edited
copies of the posters and a Russian rendering of the text through the one
engine, turns the matches into cases, and creates a reviewer account.  Nothing
real is involved: the "known items" are coloured shapes and a harbour festival.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from crossmatch import samples
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.errors import Conflict
from crossmatch.review.media import make_preview, media_dir
from crossmatch.review.models import utcnow
from crossmatch.review.service import ReviewService
from crossmatch.signals.base import Content
from crossmatch.store.models import BankItem

POSTER_BANK, ALLOW_BANK, TEXT_BANK, VIDEO_BANK = "sample-posters", "sample-allow", "sample-texts", "sample-videos"
DEMO_EDITS = ("greyscale", "flipped", "letterboxed", "resized", "captioned")  # the caption defeats PDQ: no case
KNOWN_TEXT = (
    "The harbour festival opens on Friday with music, boats and lanterns along the old quay. "
    "Families gather to watch the parade of decorated fishing boats. "
    "Local bakers sell sweet bread and the evening ends with fireworks over the water."
)
QUERY_TEXT_RU = (
    "Фестиваль в гавани открывается в пятницу музыкой, лодками и фонарями вдоль старой набережной. "
    "Семьи собираются, чтобы посмотреть парад украшенных рыбацких лодок. "
    "Местные пекари продают сладкий хлеб, а вечер заканчивается фейерверком над водой."
)
QUERY_TEXT_AR = (
    "يفتتح مهرجان الميناء يوم الجمعة بالموسيقى والقوارب والفوانيس على طول الرصيف القديم. "
    "تجتمع العائلات لمشاهدة موكب قوارب الصيد المزينة. "
    "يبيع الخبازون المحليون الخبز الحلو وينتهي المساء بالألعاب النارية فوق الماء."
)


@dataclass
class DemoQueue:
    username: str
    password: str | None  # None when the user already existed (its password is not known here)
    case_ids: list[int] = field(default_factory=list)
    banks: list[str] = field(default_factory=list)


def seed_demo(target: Any, username: str = "reviewer", password: str | None = None, posters: int = 5,
              text: bool = True, video: bool = False, arabic: bool = False) -> DemoQueue:
    """Seed banks, cases and a reviewer; ``target`` is ``app.state`` (preferred) or a Context.

    ``text=False`` leaves out the text bank and case (they load the language models, which takes seconds).
    ``arabic=True`` adds an Arabic rendering of the text (right-to-left); ``video=True`` a bank video and a
    re-cut, subtitled 12-second excerpt of it (needs the video extra).

    Safe to call twice: existing banks are reused and only a first call adds cases.
    Case previews are kept (the posters are synthetic), whatever ``keep_media`` says.
    """
    ctx = getattr(target, "ctx", None) or target
    users = getattr(target, "users", None)
    if users is None:
        from crossmatch.auth.users import UserService  # server extra; only needed without an app

        users = UserService(ctx.sessions)
    settings = ctx.settings.model_copy(update={"keep_media": True})
    review = ReviewService(ctx.sessions, ctx.banks, getattr(target, "audit", None), getattr(target, "actions", None), settings)

    password = password or secrets.token_urlsafe(12)
    try:
        users.create(username, password, "reviewer")
    except Conflict:
        password = None
    out = DemoQueue(username, password, banks=[POSTER_BANK, ALLOW_BANK, TEXT_BANK])
    if POSTER_BANK in {b.name for b in ctx.banks.list_banks()}:
        out.case_ids = [c.id for c in review.list_cases("pending", limit=500)]
        return out

    ctx.banks.create_bank(BankSpec(name=POSTER_BANK, description="Synthetic posters standing in for known items",
                                   labels={"severity": "high"}))
    ctx.banks.create_bank(BankSpec(name=ALLOW_BANK, kind="allow", description="Known benign look-alikes"))
    ctx.banks.create_bank(BankSpec(name=TEXT_BANK, description="Synthetic texts", labels={"severity": "medium"}))
    images = [samples.make_poster(1000 + i) for i in range(posters)]
    items = []
    for i, img in enumerate(images):
        signals = ctx.engine.hash_for_bank(Content(f"poster-{i:02d}", "image", data=samples.to_bytes(img))).signals
        labels = {"entity": f"Sample Group {'AB'[i % 2]}", "outlet": f"Sample Outlet {i % 3 + 1}", "category": "poster",
                  "language": "en", "source": "crossmatch demo", "first_seen": f"2024-0{i % 9 + 1}-15"}
        items.append(ItemUpsert(f"poster-{i:02d}", list(signals), labels, "image"))
    ctx.banks.upsert_items(POSTER_BANK, items)
    _keep_bank_previews(ctx, settings, images)
    if text:
        text_signals = ctx.engine.hash_for_bank(Content("festival-en", "text", text=KNOWN_TEXT)).signals
        ctx.banks.upsert_items(TEXT_BANK, [ItemUpsert("festival-en", list(text_signals),
                                                      {"entity": "Sample Group A", "category": "statement", "language": "en",
                                                       # a curator's summary, shown beside the alignment
                                                       "summary": "Announcement of a harbour festival: boats, a parade, bread and fireworks."}, "text")])

    queries = [Content(f"upload-{i:02d}-{DEMO_EDITS[i % len(DEMO_EDITS)]}.jpg", "image",
                       data=samples.to_bytes(samples.EDITS[DEMO_EDITS[i % len(DEMO_EDITS)]](img)))
               for i, img in enumerate(images)]
    if text:
        queries.append(Content("post-ru-0001", "text", text=QUERY_TEXT_RU))
    if text and arabic:
        queries.append(Content("post-ar-0002", "text", text=QUERY_TEXT_AR))
    if video:
        queries.append(_video_bank(ctx))
    for n, content in enumerate(queries):
        result = ctx.engine.scan(content, deep=False)
        case_id = review.open_case(result, content, submission_id=f"demo-{n + 1}", source="demo")
        if case_id is not None:
            out.case_ids.append(case_id)
    return out


def _video_bank(ctx: Any) -> Content:
    """A 45 s synthetic bank video, and the upload: seconds 20-32 of it, re-encoded with burnt-in subtitles."""
    import tempfile
    from pathlib import Path

    ctx.banks.create_bank(BankSpec(name=VIDEO_BANK, description="Synthetic videos", labels={"severity": "high"}))
    with tempfile.TemporaryDirectory() as tmp:
        known, incoming = samples.write_video_samples(Path(tmp))
        clip = (known / "clip_00.mp4").read_bytes()
        upload = (incoming / "upload_recut_subtitled.mp4").read_bytes()
    signals = ctx.engine.hash_for_bank(Content("clip-00", "video", data=clip)).signals
    ctx.banks.upsert_items(VIDEO_BANK, [ItemUpsert("clip-00", list(signals), {"entity": "Sample Group B", "category": "video",
                                                                              "language": "ru"}, "video")])
    return Content("upload-recut-subtitled.mp4", "video", data=upload)


def clone_cases(target: Any, case_id: int, count: int) -> int:
    """``count`` copies of a case (with its matches) in bulk: a full queue for load tests and benchmarks."""
    from sqlalchemy import insert, select

    from crossmatch.review.models import Case, CaseMatch

    ctx = getattr(target, "ctx", None) or target
    skip = {"id", "case_id"}
    with ctx.sessions.begin() as session:
        case = session.get(Case, case_id)
        row = {c.key: getattr(case, c.key) for c in Case.__table__.columns if c.key not in skip}
        matches = [{c.key: getattr(m, c.key) for c in CaseMatch.__table__.columns if c.key not in skip}
                   for m in session.scalars(select(CaseMatch).where(CaseMatch.case_id == case_id))]
        made = 0
        for start in range(0, count, 500):
            n = min(500, count - start)
            ids = session.scalars(insert(Case).returning(Case.id), [
                {**row, "submission_id": f"clone-{case_id}-{start + i}", "severity": (start + i) % 5,
                 "claimed_by": None, "claimed_until": None} for i in range(n)]).all()
            if matches:
                session.execute(insert(CaseMatch), [{**m, "case_id": cid} for cid in ids for m in matches])
            made += n
    return made


def _keep_bank_previews(ctx: Any, settings: Any, images: list) -> None:
    """Previews of the bank posters too, so the case view can show both sides (blurred)."""
    folder = media_dir(settings.home)
    folder.mkdir(parents=True, exist_ok=True)
    expires = utcnow() + timedelta(days=settings.media_retention_days)
    for i, img in enumerate(images):
        item, _ = ctx.banks.get_item(POSTER_BANK, f"poster-{i:02d}")
        path = folder / f"bank-item-{item.id}.jpg"
        path.write_bytes(make_preview(samples.to_bytes(img), item.external_id, settings.image.max_pixels))
        with ctx.sessions.begin() as session:
            session.execute(update(BankItem).where(BankItem.id == item.id).values(media_path=str(path), media_expires_at=expires))


def main(argv: list[str] | None = None) -> None:
    """``python -m crossmatch.review.demo [--home DIR] [--port 8000]``: seed, print the sign-in, serve."""
    import argparse

    import uvicorn

    from crossmatch.api.app import create_app
    from crossmatch.settings import Settings

    parser = argparse.ArgumentParser(description="Serve crossmatch with a sample review queue (synthetic, benign content).")
    parser.add_argument("--home", default=None, help="data directory (default: $CROSSMATCH_HOME or ~/.crossmatch)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--password", default=None, help="the reviewer's password (default: generated and printed)")
    args = parser.parse_args(argv)
    settings = Settings.load(home=args.home, deep_scan=False)
    app = create_app(settings)
    demo = seed_demo(app.state, password=args.password)
    print(f"crossmatch review UI: http://{args.host}:{args.port}/signin")
    if demo.password:
        print(f"  reviewer: {demo.username}  password: {demo.password}")
    else:
        print(f"  reviewer: {demo.username} (already existed; password unchanged)")
    print(f"  {len(demo.case_ids)} cases waiting in the queue; banks: {', '.join(demo.banks)}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
