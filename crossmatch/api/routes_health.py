"""Liveness, readiness and Prometheus metrics (no auth: bind to a private address)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crossmatch.store.db import alembic_config

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrations at head")
def readyz(request: Request) -> JSONResponse:
    db = request.app.state.ctx.db
    try:
        with db.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        heads = set(ScriptDirectory.from_config(alembic_config(db)).get_heads())
    except Exception as exc:  # any DB failure means not ready; say which
        return JSONResponse({"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503)
    if current != heads:
        missing = sorted(heads - current)
        return JSONResponse({"status": "unavailable", "detail": f"migrations not at head (missing {missing}); restart to migrate"},
                            status_code=503)
    return JSONResponse({"status": "ready", "heads": sorted(heads)})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    state = request.app.state
    state.metrics.refresh(state)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
