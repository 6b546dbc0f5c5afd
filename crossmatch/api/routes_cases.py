"""JSON routes for the review queue under /api/v1/cases (thin: the service does the work).

Domain errors map to HTTP in the app's one handler: NotFound 404, Conflict 409
(claimed by someone else, already decided), InvalidInput 422 (bad decision).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import Offset, RowId
from crossmatch.auth import require_role
from crossmatch.review.schemas import DecideIn, case_json, decision_json
from crossmatch.review.service import ReviewService

REVIEW = ("reviewer", "senior")  # admin always passes require_role too

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)


def _review(request: Request) -> ReviewService:
    return request.app.state.review


@router.get("")
def list_cases(
    request: Request,
    status: str | None = Query("pending", description="pending (open+escalated), decided, open, escalated, confirmed, rejected, merged"),
    bank: str | None = None,
    sort: str = Query("age", description="age | severity | score | bank"),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
    principal=Depends(require_role(*REVIEW)),
) -> dict[str, Any]:
    cases = _review(request).list_cases(status=status or None, bank=bank, sort=sort, limit=limit, offset=offset)
    return {"cases": [case_json(c) for c in cases], "limit": limit, "offset": offset}


@router.get("/{case_id}")
def get_case(case_id: RowId, request: Request, principal=Depends(require_role(*REVIEW))) -> dict[str, Any]:
    return case_json(_review(request).get_case(case_id), full=True)


@router.post("/{case_id}/claim")
def claim(case_id: RowId, request: Request, principal=Depends(require_role(*REVIEW))) -> dict[str, Any]:
    return case_json(_review(request).claim(case_id, principal.actor, principal.role), full=True)


@router.post("/{case_id}/release")
def release(case_id: RowId, request: Request, force: bool = False, principal=Depends(require_role(*REVIEW))) -> dict[str, Any]:
    _review(request).release(case_id, principal.actor, force=force and principal.role == "admin")
    return case_json(_review(request).get_case(case_id))


@router.post("/{case_id}/decision")
def decide(case_id: RowId, body: DecideIn, request: Request, principal=Depends(require_role(*REVIEW))) -> dict[str, Any]:
    row = _review(request).decide(case_id, principal.actor, body.decision, body.note, body.add_to_allow_bank,
                                 reason=body.reason, role=principal.role)
    return decision_json(row)
