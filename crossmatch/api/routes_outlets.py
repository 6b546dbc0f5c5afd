"""JSON routes for outlets under /api/v1/outlets: accounts, outlets, candidate bank items, exports.

Account ids are pseudonymised everywhere; raw handles (only when the deployment
keeps them) are shown to analysts, and put into exports only when an admin asks.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import RowId
from crossmatch.auth import require_role
from crossmatch.auth.roles import BANK_WRITE, HANDLES, OUTLETS_READ, Principal
from crossmatch.errors import InvalidInput
from crossmatch.outlets.service import OutletService

router = APIRouter(prefix="/api/v1/outlets", tags=["outlets"], responses=ERROR_RESPONSES)


class CandidateDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject"]
    bank: str | None = Field(None, max_length=200, description="The bank an accepted candidate's signal is added to")
    note: str | None = Field(None, max_length=10_000)


def _outlets(request: Request) -> OutletService:
    return request.app.state.outlets


def _sees_handles(principal: Principal) -> bool:
    return principal.role in HANDLES or principal.role == "admin"


@router.get("", summary="Detected outlets: accounts across platforms, languages, entities")
def list_outlets(request: Request, principal=Depends(require_role(*OUTLETS_READ))) -> dict[str, Any]:
    return {"outlets": _outlets(request).outlets()}


@router.get("/accounts", summary="Account records (flagged ones by default)")
def list_accounts(request: Request, flagged: bool = True, limit: int = Query(100, ge=1, le=10_000),
                  principal=Depends(require_role(*OUTLETS_READ))) -> dict[str, Any]:
    return {"accounts": _outlets(request).accounts(flagged, limit, with_handles=_sees_handles(principal))}


@router.get("/accounts/{account}", summary="One account's record")
def get_account(account: str, request: Request, principal=Depends(require_role(*OUTLETS_READ))) -> dict[str, Any]:
    return _outlets(request).account(account, with_handles=_sees_handles(principal))


@router.get("/candidates", summary="Candidate bank items: unbanked material co-posted by flagged accounts")
def list_candidates(request: Request, status: str | None = Query("pending", description="pending | accepted | rejected"),
                    limit: int = Query(100, ge=1, le=1000), principal=Depends(require_role(*OUTLETS_READ))) -> dict[str, Any]:
    return {"candidates": _outlets(request).candidates(status or None, limit)}


@router.post("/candidates/{candidate_id}/decision", summary="A curator accepts (into a bank) or rejects a candidate")
def decide_candidate(candidate_id: RowId, body: CandidateDecisionIn, request: Request,
                     principal=Depends(require_role(*BANK_WRITE))) -> dict[str, Any]:
    return _outlets(request).decide(candidate_id, body.decision, principal.name, body.bank, body.note)


@router.get("/export", summary="The account graph: GEXF or GraphML (Gephi), CSV, or a STIX 2.1 bundle",
            response_class=Response)
def export(request: Request, format: str = Query("gexf", description="gexf | graphml | csv | stix"),
           handles: bool = Query(False, description="Raw handles instead of pseudonyms (admin only)"),
           principal=Depends(require_role(*OUTLETS_READ))) -> Response:
    from crossmatch.outlets.exports import MEDIA_TYPES, export_graph

    if handles and principal.role != "admin":
        raise InvalidInput("only an admin may export raw handles; leave handles=false for pseudonymised ids")
    body = export_graph(_outlets(request), format, handles=handles)
    return Response(body, media_type=MEDIA_TYPES[format])


@router.get("/{outlet_id}", summary="One outlet, with its weekly timeline by language")
def get_outlet(outlet_id: RowId, request: Request, principal=Depends(require_role(*OUTLETS_READ))) -> dict[str, Any]:
    service = _outlets(request)
    return {**service.describe(outlet_id), "timeline": service.timeline(outlet_id)}
