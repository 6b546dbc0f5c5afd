"""Tokens, users and the audit trail (admin).  The audit has no route that edits it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request

from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import AuditOut, RowId, TokenIn, TokenOut, UserIn, UserOut
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import ADMIN, Principal

router = APIRouter(prefix="/api/v1", tags=["admin"], responses=ERROR_RESPONSES)
ADMIN_ONLY = require_role(*ADMIN)


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Create an API token (the secret is shown only here)")
def create_token(body: TokenIn, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    token, info = request.app.state.tokens.create(body.role, body.name, created_by=who.actor)
    request.app.state.audit.record(who.actor, "token.create", info.name, {"id": info.id, "role": info.role})
    return {**info.to_json(), "token": token}


@router.get("/tokens", response_model=list[TokenOut], dependencies=[Depends(ADMIN_ONLY)])
def list_tokens(request: Request) -> list[dict]:
    return [t.to_json() for t in request.app.state.tokens.list()]


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke a token")
def revoke_token(token_id: RowId, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    info = request.app.state.tokens.revoke(token_id)
    request.app.state.audit.record(who.actor, "token.revoke", info.name, {"id": token_id})
    return info.to_json()


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    info = request.app.state.users.create(body.username, body.password, body.role)
    request.app.state.audit.record(who.actor, "user.create", info.username, {"role": info.role})
    return info.to_json()


@router.get("/users", response_model=list[UserOut], dependencies=[Depends(ADMIN_ONLY)])
def list_users(request: Request) -> list[dict]:
    return [u.to_json() for u in request.app.state.users.list()]


@router.post("/users/{username}/disable", response_model=UserOut)
def disable_user(username: str, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    info = request.app.state.users.disable(username)
    request.app.state.audit.record(who.actor, "user.disable", username, {})
    return info.to_json()


@router.get("/audit", response_model=list[AuditOut], dependencies=[Depends(ADMIN_ONLY)],
            summary="The audit trail, newest first (action 'bank.' matches a prefix)")
def query_audit(
    request: Request,
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=100),
    since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict]:
    return [r.to_json() for r in request.app.state.audit.query(actor, action, since, limit)]
