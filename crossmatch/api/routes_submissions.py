"""Asynchronous submissions: 202 now, results later (GET), with idempotency keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crossmatch.api.deps import CONTENT_BODY, read_content
from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import RowId, SubmissionOut
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import MATCH, Principal
from crossmatch.errors import InvalidInput

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"], responses=ERROR_RESPONSES)


@router.post("", response_model=SubmissionOut, status_code=202, openapi_extra=CONTENT_BODY,
             responses={200: {"model": SubmissionOut, "description": "Same idempotency key: the earlier submission"}},
             summary="Queue content for scanning; poll GET /submissions/{id} for the result")
async def submit(
    request: Request,
    principal: Principal = Depends(require_role(*MATCH)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
) -> JSONResponse:
    given = await read_content(request)
    key = idempotency_key or given.idempotency_key
    if key is not None and not key.strip():
        raise InvalidInput("Idempotency-Key must not be blank")
    state = request.app.state
    out, created = await run_in_threadpool(state.submissions.submit, principal.actor, given.content, key, given.source)
    body = SubmissionOut.model_validate(out).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if created else 200)


@router.get("/{submission_id}", response_model=SubmissionOut, summary="Status and results of a submission")
def get_submission(submission_id: RowId, request: Request, principal: Principal = Depends(require_role(*MATCH))) -> dict:
    owner = None if principal.role == "admin" else principal.actor
    return request.app.state.submissions.get(submission_id, owner)
