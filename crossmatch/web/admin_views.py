"""Bank curation and dead-letter pages of the review UI.

Reviewers may browse banks; curators (and admins) enable and disable items;
admins retry webhook deliveries that ran out of attempts.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crossmatch.api.schemas import RowId
from crossmatch.web.routing import PageRoute
from crossmatch.web.security import check_csrf, need_user, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 100


@router.get("/banks")
def banks(request: Request) -> Response:
    need_user(request, "reviewer", "senior", "curator")
    service = request.app.state.ctx.banks
    rows = [(bank, service.bank_stats(bank.id)) for bank in service.list_banks()]
    return render(request, "banks.html", banks=rows)


@router.get("/banks/{name}")
def bank(request: Request, name: str, page: int = 0) -> Response:
    user = need_user(request, "reviewer", "senior", "curator")
    service = request.app.state.ctx.banks
    found = service.get_bank(name)
    page = max(0, page)
    items = service.list_items(name, limit=PAGE + 1, offset=page * PAGE)
    return render(request, "bank.html", bank=found, items=items[:PAGE], page=page, more=len(items) > PAGE,
                  can_curate=user["role"] in ("curator", "admin"))


@router.post("/banks/{name}/items/{external_id:path}/enabled")
def set_enabled(request: Request, name: str, external_id: str, csrf: str = Form(""), enabled: str = Form(""),
                page: int = Form(0)) -> Response:
    user = need_user(request, "curator")
    check_csrf(request, csrf)
    on = enabled in ("1", "true", "on")
    request.app.state.ctx.banks.set_item_enabled(name, external_id, on)
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record(user["name"], "bank.item_enabled" if on else "bank.item_disabled", f"bank:{name}/{external_id}", {})
    request.session["flash"] = f"{external_id} {'enabled' if on else 'disabled'} in {name}."
    return RedirectResponse(f"/banks/{name}?page={page}", status_code=303)


@router.get("/dead-letters")
def dead_letters(request: Request) -> Response:
    need_user(request, "admin")
    actions = request.app.state.actions
    return render(request, "dead_letters.html", actions=actions.list_actions(status="dead", limit=200), counts=actions.counts())


@router.post("/dead-letters/{action_id}/retry")
def retry(request: Request, action_id: RowId, csrf: str = Form("")) -> Response:
    user = need_user(request, "admin")
    check_csrf(request, csrf)
    request.app.state.actions.retry(action_id)
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record(user["name"], "action.retry", f"action:{action_id}", {})
    request.session["flash"] = f"Delivery {action_id} queued again."
    return RedirectResponse("/dead-letters", status_code=303)
