"""Webhook sinks, the action (delivery) list, and dead-letter retries (admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from crossmatch.actions.egress import redact_url
from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import ActionOut, Offset, RetriedOut, RowId, WebhookIn, WebhookOut, WebhookPatch
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import ADMIN, Principal

router = APIRouter(prefix="/api/v1", tags=["actions"], responses=ERROR_RESPONSES)
ADMIN_ONLY = require_role(*ADMIN)


@router.get("/webhooks", response_model=list[WebhookOut], dependencies=[Depends(ADMIN_ONLY)])
def list_webhooks(request: Request) -> list[dict]:
    return request.app.state.actions.list_webhooks()


@router.post("/webhooks", response_model=WebhookOut, status_code=201,
             summary="Add a webhook; the response carries its signing secret, shown only once")
def create_webhook(body: WebhookIn, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    hook, secret = request.app.state.actions.create_webhook(body.name, body.url, body.events, body.secret)
    request.app.state.audit.record(who.actor, "webhook.create", body.name, {"url": redact_url(body.url), "events": hook["events"]})
    return {**hook, "secret": secret}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, dependencies=[Depends(ADMIN_ONLY)])
def get_webhook(webhook_id: RowId, request: Request) -> dict:
    from crossmatch.actions.service import webhook_json

    return webhook_json(request.app.state.actions.webhook(webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: RowId, body: WebhookPatch, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    changes = body.model_dump(exclude_none=True)
    hook = request.app.state.actions.update_webhook(webhook_id, **changes)
    changes.pop("secret", None)
    if "url" in changes:
        changes["url"] = redact_url(changes["url"])  # receivers' credentials never reach the audit trail
    request.app.state.audit.record(who.actor, "webhook.update", hook["name"], changes)
    return hook


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: RowId, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> Response:
    request.app.state.actions.delete_webhook(webhook_id)
    request.app.state.audit.record(who.actor, "webhook.delete", str(webhook_id), {})
    return Response(status_code=204)


@router.get("/actions", response_model=list[ActionOut], dependencies=[Depends(ADMIN_ONLY)],
            summary="Actions (webhook deliveries), newest first; status=dead lists the dead letters")
def list_actions(
    request: Request,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: Offset = 0,
) -> list[dict]:
    return request.app.state.actions.list_actions(status, limit, offset)


@router.get("/actions/{action_id}", response_model=ActionOut, dependencies=[Depends(ADMIN_ONLY)])
def get_action(action_id: RowId, request: Request) -> dict:
    return request.app.state.actions.get_action(action_id)


@router.post("/actions/{action_id}/retry", response_model=ActionOut, summary="Send a dead letter again")
def retry_action(action_id: RowId, request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    out = request.app.state.actions.retry(action_id)
    request.app.state.audit.record(who.actor, "action.retry", str(action_id), {})
    return out


@router.post("/actions/retry-dead", response_model=RetriedOut, summary="Send every dead letter again")
def retry_dead(request: Request, who: Principal = Depends(ADMIN_ONLY)) -> dict:
    count = request.app.state.actions.retry_dead()
    request.app.state.audit.record(who.actor, "action.retry_dead", "", {"count": count})
    return {"retried": count}
