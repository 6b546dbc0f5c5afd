"""Review UI pages: sign-in, the queue, the case view, decisions and media previews.

Thin: each page reads the signed-in user, calls the review service and renders
a template.  Media is served blurred and greyscale unless the reviewer asks to
reveal it (or has chosen that as their default); reveals are audited.
"""

from __future__ import annotations

from pathlib import Path

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from crossmatch.api.schemas import RowId
from crossmatch.auth.roles import PasswordBusy
from crossmatch.auth.sessions import SESSION_ID
from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.review import plain
from crossmatch.review.media import blurred_cached, media_dir
from crossmatch.review.models import aware, utcnow
from crossmatch.review.service import SENIOR, SORTS, STATUS_FILTERS, ReviewService
from crossmatch.store.models import BankItem
from crossmatch.web.routing import PageRoute, safe_next, static_file
from crossmatch.web.security import SESSION_USER, check_csrf, csrf_token, current_user, need_user, render

REVIEW = ("reviewer", "senior")
PENDING = "pending_decision"  # a decision sent after the session expired, kept to refill the form after sign-in
router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _review(request: Request) -> ReviewService:
    return request.app.state.review


def _audit(request: Request, actor: str, action: str, target: str, detail: dict) -> None:
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record(actor, action, target, detail)


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    return static_file(name)


def _landing(user: dict | None) -> str:
    # A curator has no queue to review: their work starts at the banks (and allow-list proposals).
    if user is None:
        return "/signin"
    if user["role"] == "analyst":
        return "/outlets"  # an analyst's work is the outlets, not the review queue
    return "/banks" if user["role"] == "curator" else "/queue"


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse(_landing(current_user(request)), status_code=303)


# -- sign-in ------------------------------------------------------------------
@router.get("/signin")
def signin_page(request: Request, next: str = "/queue") -> Response:
    return render(request, "signin.html", next=safe_next(next), pending=request.session.get(PENDING))


@router.post("/signin")
def signin(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""), next: str = Form("/queue")) -> Response:
    check_csrf(request, csrf)
    state, name = request.app.state, username.strip()
    client = request.client.host if request.client else ""
    wait = state.signin_throttle.wait(name, client)  # before any argon2 work
    if wait > 0:
        return _signin_refused(request, next, 429, wait, f"Too many failed sign-ins for this account or from this address. "
                               f"Try again in {max(1, round(wait / 60))} minute(s), or ask an admin.")
    try:
        principal = state.users.verify(name, password) if name and password else None
    except PasswordBusy as exc:
        return _signin_refused(request, next, 503, exc.retry_after, "The server is busy checking other sign-ins. Try again in a moment.")
    if principal is None:
        state.signin_throttle.failed(name, client)
        # The actor is a real account or "anonymous": never the text a stranger typed into the form.
        known = name if name and _user_exists(request, name) else None
        _audit(request, known or "anonymous", "auth.signin_failed", "web", {"client": client, "known_account": known is not None})
        return render(request, "signin.html", status_code=401, next=safe_next(next), pending=request.session.get(PENDING),
                      error="Unknown user or wrong password. Check both, or ask an admin to reset your account.")
    state.signin_throttle.succeeded(name, client)
    pending = request.session.get(PENDING)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session[SESSION_USER] = {"name": principal.name, "role": principal.role}
    request.session[SESSION_ID] = state.web_sessions.create(principal.name, client)  # revocable server-side
    if pending:
        request.session[PENDING] = pending  # refilled on the case page; never applied without the reviewer's click
    csrf_token(request)
    _audit(request, principal.name, "auth.signin", "web", {"client": client})
    target = safe_next(next)
    if target == "/queue":
        target = _landing(request.session[SESSION_USER])
    return RedirectResponse(target, status_code=303)


def _signin_refused(request: Request, next: str, status: int, retry_after: float, error: str) -> Response:
    page = render(request, "signin.html", status_code=status, next=safe_next(next), error=error)
    page.headers["Retry-After"] = str(max(1, round(retry_after + 0.5)))
    return page


def _user_exists(request: Request, name: str) -> bool:
    try:
        request.app.state.users.get(name)
        return True
    except NotFound:
        return False


@router.post("/signout")
def signout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = current_user(request)
    if user:
        _audit(request, user["name"], "auth.signout", "web", {})
    request.app.state.web_sessions.revoke(request.session.get(SESSION_ID))  # the cookie is dead even if copied
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


# -- queue --------------------------------------------------------------------
def _queue_args(sort: str, status: str, bank: str) -> str:
    return urlencode({"sort": sort, "status": status, "bank": bank})


@router.get("/queue")
def queue(request: Request, sort: str = "age", status: str = "pending", bank: str = "", page: int = 0) -> Response:
    user = need_user(request, *REVIEW)
    return _queue_page(request, user, sort, status, bank, page, escalations=False)


@router.get("/escalations")
def escalations(request: Request, sort: str = "age", page: int = 0) -> Response:
    user = need_user(request, *REVIEW)
    return _queue_page(request, user, sort, "escalated", "", page, escalations=True)


def _queue_page(request: Request, user: dict, sort: str, status: str, bank: str, page: int, escalations: bool) -> Response:
    review = _review(request)
    settings = request.app.state.ctx.settings
    sort = sort if sort in SORTS else "age"
    status = status if status in STATUS_FILTERS else "pending"
    size = settings.review.page_size
    total = review.count_cases(status=status, bank=bank or None)
    pages = max(1, -(-total // size))
    page = min(max(0, page), pages - 1)
    cases = review.list_cases(status=status, bank=bank or None, sort=sort, limit=size, offset=page * size, with_matches=False)
    reasons = {}
    if escalations:  # the escalating reviewer's reason, shown in the escalation queue
        reasons = {c.id: next((d.note for d in reversed(review.get_case(c.id).decisions) if d.decision == "escalate"), "")
                   for c in cases}
    banks = request.app.state.ctx.banks.list_banks()
    return render(request, "queue.html", cases=cases, sort=sort, sorts=list(SORTS), status=status, bank=bank,
                  holders={c.id: review.holder(c) for c in cases}, total=total, page=page, pages=pages, size=size,
                  args=_queue_args(sort, status, bank), escalations=escalations, reasons=reasons, now=utcnow(),
                  banks=[b.name for b in banks if b.kind == "block"], reveal_default=_reveal_default(request, user),
                  policy=settings.review.wellness, plain=plain)


@router.post("/queue/start")
def start_reviewing(request: Request, csrf: str = Form(""), sort: str = Form("age"), status: str = Form("pending"),
                    bank: str = Form(""), after: str = Form("")) -> Response:
    """Claim the next case in the queue's own order and filter (the only way, with a first action, to claim)."""
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    review = _review(request)
    status = status if status in STATUS_FILTERS else "pending"
    case_id = review.start_next(user["name"], user["role"], sort, status, bank or None,
                                after=int(after) if after.isdigit() else None)
    if case_id is None:
        request.session["flash"] = "No case left in this queue that you can take: all are held, decided or yours to leave to someone else."
        return RedirectResponse(f"/queue?{_queue_args(sort, status, bank)}", status_code=303)
    _audit(request, user["name"], "case.claim", f"case:{case_id}", {})
    return RedirectResponse(f"/cases/{case_id}?{_queue_args(sort, status, bank)}", status_code=303)


@router.post("/preferences")
def preferences(request: Request, csrf: str = Form(""), reveal_media: str = Form(""), next: str = Form("/queue")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    reveal = reveal_media in ("1", "on", "true")
    policy = request.app.state.ctx.settings.review.wellness
    if reveal and not (policy.allow_reveal and policy.allow_reveal_by_default):
        request.session["flash"] = "Your organisation keeps media blurred by default; this cannot be changed here."
        return RedirectResponse(safe_next(next), status_code=303)
    _review(request).set_reveal_by_default(user["name"], reveal)
    _audit(request, user["name"], "review.preferences", f"user:{user['name']}", {"reveal_media": reveal})
    request.session["flash"] = "Media will be shown " + ("unblurred by default." if reveal else "blurred by default.")
    return RedirectResponse(safe_next(next), status_code=303)


def _reveal_default(request: Request, user: dict) -> bool:
    policy = request.app.state.ctx.settings.review.wellness
    if not (policy.allow_reveal and policy.allow_reveal_by_default):
        return False  # the organisation's policy bounds the reviewer's own choice
    return _review(request).reveal_by_default(user["name"])


# -- case view ----------------------------------------------------------------
@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: RowId, sort: str = "age", status: str = "pending", bank: str = "") -> Response:
    """Viewing never claims: reading (or browsing with j / k) holds nothing."""
    user = need_user(request, *REVIEW)
    review = _review(request)
    case = review.get_case(case_id)
    form = None
    pending = request.session.get(PENDING)
    if isinstance(pending, dict) and pending.get("case_id") == case_id:
        form = request.session.pop(PENDING)
    seen = review.note_exposure(user["name"], cases=1)
    return _render_case(request, user, case, sort, status, bank, form=form, seen=seen)


def _render_case(request: Request, user: dict, case, sort: str, status: str = "pending", bank: str = "",
                 error: str | None = None, code: int = 200, form: dict | None = None, confirm_allow: str | None = None,
                 seen: int | None = None):
    review = _review(request)
    ctx = request.app.state.ctx
    sort = sort if sort in SORTS else "age"
    status = status if status in STATUS_FILTERS else "pending"
    ids = sorted({m.bank_item_id for m in case.matches})
    with ctx.sessions() as session:
        items = {row.id: row for row in session.scalars(select(BankItem).where(BankItem.id.in_(ids)))} if ids else {}
    prev_id, next_id = review.neighbours(case.id, sort, status, bank or None)
    expires = aware(case.media_expires_at)
    holder = review.holder(case)
    held_by = None if holder in (None, user["name"]) else review._held_message(case)
    blocked = None
    if case.status in ("open", "escalated"):
        try:
            review.check_may_decide(case, user["name"], user["role"])
        except Conflict as exc:
            blocked = str(exc)
    policy = ctx.settings.review.wellness
    cases_seen, reveals = review.exposure(user["name"])
    total_seen = seen if seen is not None else cases_seen + reveals
    duration = max([float((s.get("meta") or {}).get("duration") or 0) for s in case.signals or [] if s.get("type") == "vpdq"] or [0])
    return render(
        request, "case.html", status_code=code, case=case, held_by=held_by, blocked=blocked, error=error, sort=sort,
        status=status, bank=bank, args=_queue_args(sort, status, bank), cards=plain.cards(case.matches, case.kind),
        items=items, item_media={i: _bank_media(ctx.settings.home, row) is not None for i, row in items.items()},
        has_media=bool(case.media_path) and (expires is None or expires > utcnow()),
        reveal_default=_reveal_default(request, user), prev_id=prev_id, next_id=next_id,
        allow_banks=[b.name for b in ctx.banks.list_banks() if b.kind == "allow"],
        can_decide=held_by is None and blocked is None and case.status in ("open", "escalated"),
        mine=holder == user["name"], is_senior=user["role"] in SENIOR, plain=plain,
        keep_media=ctx.settings.keep_media, retention_days=ctx.settings.media_retention_days,
        reasons=review.reasons(), require_reason=ctx.settings.review.require_reason, form=form or {},
        confirm_allow=confirm_allow, needs_approval=ctx.settings.review.allow_needs_approval, policy=policy,
        take_break=bool(policy.break_after) and total_seen >= policy.break_after, exposure=(cases_seen, reveals),
        duration=duration, now=utcnow(), claim_minutes=ctx.settings.review.claim_minutes, proposals=[p for p in review.proposals(None) if p.case_id == case.id],
    )


@router.post("/cases/{case_id}/claim")
def claim(request: Request, case_id: RowId, csrf: str = Form(""), sort: str = Form("age"), status: str = Form("pending"),
          bank: str = Form("")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    review = _review(request)
    try:
        review.claim(case_id, user["name"], user["role"])
    except Conflict as exc:
        return _render_case(request, user, review.get_case(case_id), sort, status, bank, error=str(exc), code=409)
    _audit(request, user["name"], "case.claim", f"case:{case_id}", {})
    return RedirectResponse(f"/cases/{case_id}?{_queue_args(sort, status, bank)}", status_code=303)


@router.post("/cases/{case_id}/decide")
def decide(request: Request, case_id: RowId, csrf: str = Form(""), decision: str = Form(""), note: str = Form(""),
           reason: str = Form(""), allow_bank: str = Form(""), confirm_allow: str = Form(""), sort: str = Form("age"),
           status: str = Form("pending"), bank: str = Form("")) -> Response:
    fields = {"decision": decision, "note": note, "reason": reason, "allow_bank": allow_bank, "sort": sort, "status": status, "bank": bank}
    fields["allow_bank"] = fields["allow_bank"] or request.query_params.get("allow_bank", "")  # formaction buttons carry it
    sort, status, bank = fields["sort"] or "age", fields["status"] or "pending", fields["bank"]
    user = current_user(request)
    if user is None:
        # The session expired while the reviewer was reading: keep what they sent, have them sign in,
        # and refill the form (nothing is applied without their click).
        request.session[PENDING] = {"case_id": case_id, **{k: fields[k][:5000] for k in ("decision", "note", "reason", "allow_bank")}}
        return RedirectResponse(f"/signin?next={quote(f'/cases/{case_id}?{_queue_args(sort, status, bank)}')}", status_code=303)
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    review = _review(request)
    allow_bank = fields["allow_bank"]
    if allow_bank and confirm_allow != "1":
        # "a" never allow-lists in one keystroke: it asks first, with the note and reason kept.
        return _render_case(request, user, review.get_case(case_id), sort, status, bank, form=fields, confirm_allow=allow_bank)
    try:
        review.claim(case_id, user["name"], user["role"])  # the first action claims (or renews a lapsed claim)
        review.decide(case_id, user["name"], decision, note, allow_bank or None, reason=reason or None, role=user["role"])
    except (Conflict, InvalidInput) as exc:
        code = 409 if isinstance(exc, Conflict) else 422
        return _render_case(request, user, review.get_case(case_id), sort, status, bank, error=str(exc), code=code, form=fields)
    _, next_id = review.neighbours(case_id, sort, status, bank or None)
    if allow_bank:
        extra = (f"; allow-listing in {allow_bank} waits for a curator's approval" if request.app.state.ctx.settings.review.allow_needs_approval
                 else f" and added to allow bank {allow_bank} (undo it under Allow-list)")
    else:
        extra = ""
    request.session["flash"] = f"Case {case_id}: {decision} recorded{extra}."
    args = _queue_args(sort, status, bank)
    return RedirectResponse(f"/cases/{next_id}?{args}" if next_id else f"/queue?{args}", status_code=303)


@router.post("/cases/{case_id}/release")
def release(request: Request, case_id: RowId, csrf: str = Form("")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    _review(request).release(case_id, user["name"], force=user["role"] == "admin")
    _audit(request, user["name"], "case.release", f"case:{case_id}", {})
    request.session["flash"] = f"Case {case_id} released back to the queue."
    return RedirectResponse("/queue", status_code=303)


@router.post("/cases/{case_id}/reopen")
def reopen(request: Request, case_id: RowId, csrf: str = Form(""), note: str = Form("")) -> Response:
    user = need_user(request, "senior")
    check_csrf(request, csrf)
    review = _review(request)
    try:
        review.reopen(case_id, user["name"], user["role"], note)
    except (Conflict, InvalidInput) as exc:
        return _render_case(request, user, review.get_case(case_id), "age", error=str(exc), code=409 if isinstance(exc, Conflict) else 422)
    request.session["flash"] = f"Case {case_id} reopened; its earlier decisions stay in its history."
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


# -- allow-list proposals ---------------------------------------------------------
@router.get("/allow-proposals")
def allow_proposals(request: Request, status: str = "proposed") -> Response:
    user = need_user(request, "curator", "senior", "reviewer")
    rows = _review(request).proposals(status or None)
    return render(request, "proposals.html", proposals=rows, status=status, can_curate=user["role"] in ("curator", "admin"))


@router.post("/allow-proposals/{proposal_id}/{action}")
def allow_proposal_action(request: Request, proposal_id: RowId, action: str, csrf: str = Form("")) -> Response:
    user = need_user(request, "curator")
    check_csrf(request, csrf)
    review = _review(request)
    steps = {"approve": review.approve_proposal, "decline": review.decline_proposal, "undo": review.undo_proposal}
    if action not in steps:
        return Response("unknown action; use approve, decline or undo", status_code=404)
    prop = steps[action](proposal_id, user["name"])
    request.session["flash"] = f"Allow-list proposal {proposal_id} for case {prop.case_id}: {prop.status}."
    return RedirectResponse("/allow-proposals", status_code=303)


# -- reports ------------------------------------------------------------------------
@router.get("/reports")
def reports(request: Request) -> Response:
    need_user(request, "senior", "curator", "reviewer")
    review = _review(request)
    return render(request, "reports.html", counts=review.reason_counts(), reasons=review.reasons())


@router.get("/reports/decisions.csv")
def decisions_csv(request: Request) -> Response:
    """Every decision with its reason, beside the bank items' opinion counts (for policy review)."""
    import csv
    import io

    need_user(request, "senior", "curator")
    review = _review(request)
    ctx = request.app.state.ctx
    rows = review.decisions_for_export()
    item_ids = sorted({m.bank_item_id for _, c in rows for m in c.matches}) if rows else []
    with ctx.sessions() as session:
        items = {i.id: i for i in session.scalars(select(BankItem).where(BankItem.id.in_(item_ids)))} if item_ids else {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["decision_id", "case_id", "decision", "reason", "actor", "at", "bank", "bank_item", "confirmed_count", "rejected_count", "note"])
    for d, c in rows:
        for card in plain.cards(c.matches, c.kind) or [None]:
            item = items.get(card.bank_item_id) if card else None
            writer.writerow([d.id, c.id, d.decision, d.reason or "", d.actor, aware(d.created_at).isoformat(),
                             card.bank if card else "", card.bank_item if card else "",
                             item.confirmed_count if item else "", item.rejected_count if item else "", d.note])
    return Response(out.getvalue(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="decisions.csv"'})


# -- media ----------------------------------------------------------------------
def _image(request: Request, user: dict, path: Path, clear: bool, target: str) -> Response:
    policy = request.app.state.ctx.settings.review.wellness
    if clear and not policy.allow_reveal:
        return Response("your organisation's policy keeps media blurred", status_code=403, media_type="text/plain")
    if clear:
        _audit(request, user["name"], "media.reveal", target, {})
        _review(request).note_exposure(user["name"], reveals=1)
        data = path.read_bytes()
    else:
        data = blurred_cached(path, policy.blur, policy.greyscale)
    # Private and never cached: a shared machine must not keep revealed media.
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"})


@router.get("/cases/{case_id}/media")
def case_media(request: Request, case_id: RowId, clear: int = 0) -> Response:
    user = need_user(request, *REVIEW)
    path = _review(request).media_file(case_id)
    if path is None:
        return Response("media not retained", status_code=404, media_type="text/plain")
    return _image(request, user, path, bool(clear), f"case:{case_id}")


def _bank_media(home: Path, item: BankItem) -> Path | None:
    expires = aware(item.media_expires_at)
    if not item.media_path or (expires is not None and expires <= utcnow()):
        return None
    path = Path(item.media_path).resolve()
    # Only files inside this installation's media folder are ever served.
    return path if path.is_file() and path.is_relative_to(media_dir(home).resolve()) else None


@router.get("/bank-items/{item_id}/media")
def bank_item_media(request: Request, item_id: RowId, clear: int = 0) -> Response:
    user = need_user(request, "reviewer", "senior", "curator")
    ctx = request.app.state.ctx
    with ctx.sessions() as session:
        item = session.get(BankItem, item_id)
    path = _bank_media(ctx.settings.home, item) if item is not None else None
    if path is None:
        return Response("media not retained for this bank item", status_code=404, media_type="text/plain")
    return _image(request, user, path, bool(clear), f"bank_item:{item_id}")
