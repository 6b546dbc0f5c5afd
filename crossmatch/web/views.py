"""Review UI pages: sign-in, the queue, the case view, decisions and media previews.

Thin: each page reads the signed-in user, calls the review service and renders
a template.  Media is served blurred and greyscale unless the reviewer asks to
reveal it (or has chosen that as their default); reveals are audited.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from crossmatch.api.schemas import RowId
from crossmatch.auth.roles import PasswordBusy
from crossmatch.auth.sessions import SESSION_ID
from crossmatch.errors import Conflict, NotFound
from crossmatch.review.media import blurred, media_dir
from crossmatch.review.models import aware, utcnow
from crossmatch.review.service import SORTS, ReviewService
from crossmatch.store.models import BankItem
from crossmatch.web.routing import PageRoute, safe_next, static_file
from crossmatch.web.security import SESSION_USER, check_csrf, csrf_token, current_user, need_user, render

REVIEW = ("reviewer",)
router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _review(request: Request) -> ReviewService:
    return request.app.state.review


def _audit(request: Request, actor: str, action: str, target: str, detail: dict) -> None:
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record(actor, action, target, detail)


@router.get("/static/{name}")
def static(name: str) -> Response:
    return static_file(name)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/queue" if current_user(request) else "/signin", status_code=303)


# -- sign-in ------------------------------------------------------------------
@router.get("/signin")
def signin_page(request: Request, next: str = "/queue") -> Response:
    return render(request, "signin.html", next=safe_next(next))


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
        return render(request, "signin.html", status_code=401, next=safe_next(next),
                      error="Unknown user or wrong password. Check both, or ask an admin to reset your account.")
    state.signin_throttle.succeeded(name, client)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session[SESSION_USER] = {"name": principal.name, "role": principal.role}
    request.session[SESSION_ID] = state.web_sessions.create(principal.name, client)  # revocable server-side
    csrf_token(request)
    _audit(request, principal.name, "auth.signin", "web", {"client": client})
    return RedirectResponse(safe_next(next), status_code=303)


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
@router.get("/queue")
def queue(request: Request, sort: str = "age", status: str = "pending", bank: str = "") -> Response:
    user = need_user(request, *REVIEW)
    review = _review(request)
    cases = review.list_cases(status=status or None, bank=bank or None, sort=sort, limit=200)
    banks = request.app.state.ctx.banks.list_banks()
    return render(request, "queue.html", cases=cases, sort=sort, sorts=list(SORTS), status=status, bank=bank,
                  holders={c.id: review.holder(c) for c in cases},
                  banks=[b.name for b in banks if b.kind == "block"], reveal_default=review.reveal_by_default(user["name"]))


@router.post("/preferences")
def preferences(request: Request, csrf: str = Form(""), reveal_media: str = Form(""), next: str = Form("/queue")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    reveal = reveal_media in ("1", "on", "true")
    _review(request).set_reveal_by_default(user["name"], reveal)
    _audit(request, user["name"], "review.preferences", f"user:{user['name']}", {"reveal_media": reveal})
    request.session["flash"] = "Media will be shown " + ("unblurred by default." if reveal else "blurred by default.")
    return RedirectResponse(safe_next(next), status_code=303)


# -- case view ----------------------------------------------------------------
@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: RowId, sort: str = "age") -> Response:
    user = need_user(request, *REVIEW)
    review = _review(request)
    case = review.get_case(case_id)
    held_by = None
    if case.status in ("open", "escalated"):
        try:
            case = review.claim(case_id, user["name"])  # opening a case claims it
        except Conflict as exc:
            held_by = str(exc)
    return _render_case(request, user, case, held_by, sort if sort in SORTS else "age")


def _render_case(request: Request, user: dict, case, held_by: str | None, sort: str, error: str | None = None, status: int = 200):
    review = _review(request)
    ctx = request.app.state.ctx
    ids = sorted({m.bank_item_id for m in case.matches})
    with ctx.sessions() as session:
        items = {row.id: row for row in session.scalars(select(BankItem).where(BankItem.id.in_(ids)))} if ids else {}
    prev_id, next_id = review.neighbours(case.id, sort)
    expires = aware(case.media_expires_at)
    return render(
        request, "case.html", status_code=status, case=case, held_by=held_by, error=error, sort=sort,
        items=items, item_media={i: _bank_media(ctx.settings.home, row) is not None for i, row in items.items()},
        has_media=bool(case.media_path) and (expires is None or expires > utcnow()),
        reveal_default=review.reveal_by_default(user["name"]), prev_id=prev_id, next_id=next_id,
        allow_banks=[b.name for b in ctx.banks.list_banks() if b.kind == "allow"],
        can_decide=held_by is None and case.status in ("open", "escalated"),
        keep_media=ctx.settings.keep_media, retention_days=ctx.settings.media_retention_days,
    )


@router.post("/cases/{case_id}/decide")
def decide(request: Request, case_id: RowId, csrf: str = Form(""), decision: str = Form(""), note: str = Form(""),
           allow_bank: str = Form(""), sort: str = Form("age")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    review = _review(request)
    allow_bank = allow_bank or request.query_params.get("allow_bank", "")  # one-click buttons carry it in formaction
    try:
        # Renew the claim taken when the page opened (it may have lapsed while reading); Conflict if someone else holds it.
        review.claim(case_id, user["name"])
        review.decide(case_id, user["name"], decision, note, allow_bank or None)
    except Conflict as exc:
        return _render_case(request, user, review.get_case(case_id), None, sort, error=str(exc), status=409)
    _, next_id = review.neighbours(case_id, sort)
    extra = f" and added to allow bank {allow_bank}" if allow_bank else ""
    request.session["flash"] = f"Case {case_id}: {decision} recorded{extra}."
    return RedirectResponse(f"/cases/{next_id}?sort={sort}" if next_id else f"/queue?sort={sort}", status_code=303)


@router.post("/cases/{case_id}/release")
def release(request: Request, case_id: RowId, csrf: str = Form("")) -> Response:
    user = need_user(request, *REVIEW)
    check_csrf(request, csrf)
    _review(request).release(case_id, user["name"], force=user["role"] == "admin")
    request.session["flash"] = f"Case {case_id} released back to the queue."
    return RedirectResponse("/queue", status_code=303)


# -- media ----------------------------------------------------------------------
def _image(request: Request, user: dict, path: Path, clear: bool, target: str) -> Response:
    if clear:
        _audit(request, user["name"], "media.reveal", target, {})
        data = path.read_bytes()
    else:
        data = blurred(path)
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
    user = need_user(request, "reviewer", "curator")
    ctx = request.app.state.ctx
    with ctx.sessions() as session:
        item = session.get(BankItem, item_id)
    path = _bank_media(ctx.settings.home, item) if item is not None else None
    if path is None:
        return Response("media not retained for this bank item", status_code=404, media_type="text/plain")
    return _image(request, user, path, bool(clear), f"bank_item:{item_id}")
