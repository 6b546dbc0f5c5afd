"""Synchronous hashing and lookups, for a platform's upload path.

Hashing and decoding run in the engine's process pool and matching reads an
immutable index version, so requests never wait on each other beyond the
admission limit; past it the server answers 503 with Retry-After.  The deep
pass of a lookup gets ``service.deep_budget_s``; what it could not finish
continues asynchronously as a submission, and the answer says so.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from crossmatch.api.deps import CONTENT_BODY, read_content
from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import HashOut, LookupOut, SignalLookupIn, SignalLookupOut
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import HASH, MATCH, Principal
from crossmatch.engine import ScanResult
from crossmatch.signals.base import Content, Signal
from crossmatch.signals.registry import canonical_type_name

router = APIRouter(prefix="/api/v1", tags=["match"], responses=ERROR_RESPONSES)
SEES_ALLOW = ("curator", "admin")


@router.post("/hash", response_model=HashOut, openapi_extra=CONTENT_BODY, summary="Signals for an upload or a text")
async def hash_content(request: Request, _: Principal = Depends(require_role(*HASH))) -> HashOut:
    state = request.app.state
    state.admission.refuse_if_backlogged()
    given = await read_content(request)
    async with state.admission.slot():
        hashed = await run_in_threadpool(state.ctx.engine.hash, given.content)
    return HashOut(item=hashed.item, kind=hashed.kind, signals=[s.to_json() for s in hashed.signals],
                   warnings=hashed.warnings, error=hashed.error)


@router.post("/lookup", response_model=LookupOut, openapi_extra=CONTENT_BODY,
             summary="Match an upload or a text against the banks, with evidence")
async def lookup_content(request: Request, principal: Principal = Depends(require_role(*MATCH))) -> dict:
    state = request.app.state
    state.admission.refuse_if_backlogged()
    given = await read_content(request)
    async with state.admission.slot():
        result, deep_pass = await run_in_threadpool(scan_within_budget, state, given.content, principal.actor)
    return lookup_json(result, deep_pass, principal, state.settings.service.expose_allow_matches)


def scan_within_budget(state, content: Content, owner: str) -> tuple[ScanResult, dict]:
    """The engine's scan with the deep pass bounded by ``service.deep_budget_s``; an unfinished
    deep pass continues as a queued submission.  Returns the result and what became of the deep pass."""
    now = time.time()
    result = state.ctx.engine.scan(content, deadline=now + state.settings.service.deep_budget_s,
                                   hash_deadline=now + state.settings.limits.lookup_hash_budget_s)
    if not result.incomplete:
        status = "done" if result.deep else "off" if content.kind in ("image", "video") and not result.matches else "not_needed"
        return result, {"status": status}
    try:
        queued, _ = state.submissions.submit(owner, content, None, "lookup:deep-pass")
        return result, {"status": "queued", "incomplete": result.incomplete, "submission_id": int(queued["id"])}
    except Exception as exc:  # noqa: BLE001 - the answer must still say the item was not fully checked
        result.warnings.append(f"the deep pass could not be queued ({type(exc).__name__}: {exc}); resubmit this item")
        return result, {"status": "failed", "incomplete": result.incomplete}


def lookup_json(result: ScanResult, deep_pass: dict, principal: Principal, expose_allow: bool) -> dict:
    out = result.to_json()
    out["suppressed"] = [m.to_json() for m in result.suppressed] if (expose_allow or principal.role in SEES_ALLOW) else []
    out["warnings"] = result.warnings
    out["deep_pass"] = deep_pass
    return out


@router.post("/lookup/signal", response_model=SignalLookupOut, summary="Match one signal (e.g. a PDQ hash) against the banks")
async def lookup_signal(body: SignalLookupIn, request: Request, _: Principal = Depends(require_role(*MATCH))) -> dict:
    state = request.app.state
    signal_type = canonical_type_name(body.signal_type)  # a list's name for it (HASH_TMK, video_tmk_pdqf...) works too
    value = state.ctx.registry.get(signal_type).validate(body.signal)
    async with state.admission.slot():
        matches = await run_in_threadpool(state.ctx.engine.lookup, [Signal(signal_type, value)])
    return {"matches": [m.to_json() for m in matches]}
