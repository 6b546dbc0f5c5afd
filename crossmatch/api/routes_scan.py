"""Synchronous hashing and lookups, for a platform's upload path."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from crossmatch.api.deps import CONTENT_BODY, read_content
from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import HashOut, LookupOut, SignalLookupIn, SignalLookupOut
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import HASH, MATCH, Principal
from crossmatch.signals.base import Signal

router = APIRouter(prefix="/api/v1", tags=["match"], responses=ERROR_RESPONSES)


@router.post("/hash", response_model=HashOut, openapi_extra=CONTENT_BODY, summary="Signals for an upload or a text")
async def hash_content(request: Request, _: Principal = Depends(require_role(*HASH))) -> HashOut:
    given = await read_content(request)
    state = request.app.state

    def run():
        # Embedding backends are not known to be thread-safe: one engine call at a time per process.
        with state.engine_lock:
            return state.ctx.engine.hash(given.content)

    hashed = await run_in_threadpool(run)
    return HashOut(item=hashed.item, kind=hashed.kind, signals=[s.to_json() for s in hashed.signals],
                   warnings=hashed.warnings, error=hashed.error)


@router.post("/lookup", response_model=LookupOut, openapi_extra=CONTENT_BODY,
             summary="Match an upload or a text against the banks, with evidence")
async def lookup_content(request: Request, _: Principal = Depends(require_role(*MATCH))) -> dict:
    given = await read_content(request)
    state = request.app.state

    def scan():
        with state.engine_lock:
            return state.ctx.engine.scan(given.content)

    result = await run_in_threadpool(scan)
    out = result.to_json()
    out["suppressed"] = [m.to_json() for m in result.suppressed]
    out["warnings"] = result.warnings
    return out


@router.post("/lookup/signal", response_model=SignalLookupOut, summary="Match one signal (e.g. a PDQ hash) against the banks")
def lookup_signal(body: SignalLookupIn, request: Request, _: Principal = Depends(require_role(*MATCH))) -> dict:
    state = request.app.state
    value = state.ctx.registry.get(body.signal_type).validate(body.signal)
    with state.engine_lock:
        matches = state.ctx.engine.lookup([Signal(body.signal_type, value)])
    return {"matches": [m.to_json() for m in matches]}
