"""HMA-compatible configuration routes over crossmatch's own state: signal and content
types, exchanges (HMA's name for crossmatch's exchanges), and HMA's ``/status``,
``/status/live``, ``/site-map`` and ``/openapi/openapi.json``.

An HMA exchange is a crossmatch exchange named like its bank: ``POST /c/exchanges``
with ``{"bank": "NAME", "api": "fb_threatexchange", "api_json": {...}}`` creates the
bank (if new) and a ``pytx`` exchange ``NAME`` filling it (``file`` and ``stix`` take
crossmatch's own config, e.g. ``{"path": ...}``).  Credentials stay where crossmatch
reads them (environment variables or the library's files), never in the database, so
``POST /c/exchanges/api/{api}`` with credentials is refused with where to put them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from crossmatch.api.hma import CONTENT_KINDS, CURATE, HMA_RESPONSES, HmaError, _answer, index_built_to, signal_type_names
from crossmatch.api.hma_curation import _json
from crossmatch.errors import NotFound

router = APIRouter(tags=["hma-compat"], responses=HMA_RESPONSES)
OWN_KINDS = ("file", "stix")  # crossmatch's exchange kinds beside python-threatexchange's APIs


# -- signal and content types ---------------------------------------------------
@router.get("/c/signal_type")
def signal_types(request: Request, _: Any = CURATE) -> JSONResponse:
    # crossmatch has no per-type coin flip: a registered type is fully enabled.
    return _answer(lambda: [{"name": n, "enabled_ratio": 1.0} for n in request.app.state.ctx.registry.names()])


@router.get("/c/signal_type/index")
def signal_type_index(request: Request, signal_type: str | None = None, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        from crossmatch.store.models import BankItem, SignalRow

        ctx = request.app.state.ctx
        names = signal_type_names(ctx, signal_type)
        with ctx.sessions() as session:
            rows = session.execute(select(SignalRow.type, func.count(), func.max(BankItem.updated_at))
                                   .join(BankItem, BankItem.id == SignalRow.item_id).group_by(SignalRow.type)).all()
        stored = {t: (int(n), newest) for t, n, newest in rows}
        version = ctx.indexes.current()
        built_to = index_built_to(ctx)
        out = {}
        for name in names:
            db_size, newest = stored.get(name, (0, None))
            index = version.indexes.get(name)
            out[name] = {
                "db_size": db_size,
                "index_size": len(index) if index is not None else db_size,  # loaded on first lookup, from the store
                "index_out_of_date": False,  # read-your-writes: every lookup sees every committed change
                "newest_db_item": int(newest.timestamp()) if newest is not None else 0,
                "index_built_to": built_to,
            }
        return out

    return _answer(run)


@router.get("/c/content_type")
def content_types(_: Any = CURATE) -> JSONResponse:
    return JSONResponse([{"name": name, "enabled": True} for name in CONTENT_KINDS])


# -- exchanges ------------------------------------------------------------------
def _service(request: Request):
    from crossmatch.exchange.service import ExchangeService

    return ExchangeService(request.app.state.ctx)


def _apis() -> dict[str, type | None]:
    from crossmatch.exchange.pytx import api_classes

    out: dict[str, type | None] = dict(api_classes())
    out.update({kind: None for kind in OWN_KINDS})
    return out


def _exchange_json(row) -> dict[str, Any]:
    """HMA's dump of a collaboration config: name, api, enabled and the API's own fields."""
    config = dict(row.config or {})
    api = config.pop("api", row.kind) if row.kind == "pytx" else row.kind
    fields = config.pop("collab", {}) if row.kind == "pytx" else config
    return {**fields, "name": row.name, "api": api, "enabled": bool(row.enabled), "bank": row.bank_name}


@router.get("/c/exchanges/apis")
def exchange_apis(_: Any = CURATE) -> JSONResponse:
    return _answer(lambda: sorted(_apis()))


def _credentials_set(api_cls: type) -> bool:
    try:
        api_cls.get_credential_cls().get(api_cls)  # environment variable or the library's file
        return True
    except Exception:  # noqa: BLE001 - any failure means "not set" to this question
        return False


def _api_json(api_name: str) -> dict[str, bool]:
    from threatexchange.exchanges import auth

    apis = _apis()
    if api_name not in apis:
        raise HmaError(400, f"no such Exchange API '{api_name}'")
    api_cls = apis[api_name]
    with_auth = api_cls is not None and issubclass(api_cls, auth.SignalExchangeWithAuth)
    return {"supports_authentification": with_auth, "has_set_authentification": with_auth and _credentials_set(api_cls)}


@router.get("/c/exchanges/api/{api_name}")
def exchange_api(api_name: str, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _api_json(api_name))


@router.post("/c/exchanges/api/{api_name}")
async def exchange_api_credentials(api_name: str, request: Request, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        state = _api_json(api_name)
        cls = _apis()[api_name]
        where = ""
        if cls is not None and state["supports_authentification"]:
            cred = cls.get_credential_cls()
            where = " or ".join(x for x in (f"environment variable {cred.ENV_VARIABLE}" if getattr(cred, "ENV_VARIABLE", None) else "",
                                            f"file {cred.FILE_NAME}" if getattr(cred, "FILE_NAME", None) else "") if x)
        raise HmaError(400, "crossmatch keeps exchange credentials out of its database; put them in "
                            f"{where or 'the environment'} of the server (or name a variable with config credentials_env)")

    return await run_in_threadpool(_answer, run)


@router.get("/c/exchanges/api/{api_name}/schema")
def exchange_api_schema(api_name: str, _: Any = CURATE) -> JSONResponse:
    def fields_of(cls: type, skip: set[str]) -> dict[str, list]:
        out = []
        for f in dataclasses.fields(cls):
            if not f.init or f.name in skip:
                continue
            kind = {int: "number", float: "number", bool: "boolean"}.get(f.type if isinstance(f.type, type) else None, "string")
            if isinstance(f.type, str):
                kind = "number" if f.type in ("int", "float") else "boolean" if f.type == "bool" else "string"
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
            default = None if f.default is dataclasses.MISSING else f.default
            out.append({"name": f.name, "type": kind, "required": required, "default": default, "help": None, "choices": None})
        return {"fields": out}

    def run() -> dict:
        apis = _apis()
        if api_name not in apis:
            raise HmaError(404, f"Exchange API '{api_name}' not found")
        cls = apis[api_name]
        if cls is None:  # crossmatch's own kinds: a path to the list
            return {"config_schema": {"fields": [{"name": "path", "type": "string", "required": True, "default": None,
                                                  "help": "hash list file on the server", "choices": None}]},
                    "credentials_schema": None}
        creds = _api_json(api_name)["supports_authentification"]
        cred_cls = cls.get_credential_cls() if creds else None
        return {"config_schema": fields_of(cls.get_config_cls(), {"name", "api", "enabled"}),
                "credentials_schema": fields_of(cred_cls, set()) if cred_cls and dataclasses.is_dataclass(cred_cls) else None}

    return _answer(run)


@router.get("/c/exchanges")
def exchanges(request: Request, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: [row.name for row in _service(request).list()])


@router.post("/c/exchanges")
async def exchange_create(request: Request, _: Any = CURATE) -> JSONResponse:
    body = await _json(request)  # an HmaError answers through hma_error_response

    def run() -> JSONResponse:
        from crossmatch.banks.schemas import BankSpec

        if not isinstance(body, dict):
            raise HmaError(400, "this endpoint expects a json object payload")
        if body.get("bank") is None:
            raise HmaError(400, "bank is required")
        if not isinstance(body["bank"], str) or not check_name(body["bank"]):
            raise HmaError(400, "Field `bank` must match /^[A-Z0-9_]+$/")
        name, api, api_json = body["bank"], body.get("api"), body.get("api_json", {})
        if not isinstance(api_json, dict):
            raise HmaError(400, "Field `api_json` must be object")
        if api is None:
            raise HmaError(400, "Field `api_type` is required")
        if api not in _apis():
            raise HmaError(400, f"No such exchange type '{api}'")
        ctx = request.app.state.ctx
        try:
            ctx.banks.get_bank(name)
        except NotFound:
            ctx.banks.create_bank(BankSpec(name=name))
        kind, config = (api, dict(api_json)) if api in OWN_KINDS else ("pytx", {"api": api, "collab": dict(api_json)})
        enabled = bool(api_json.get("enabled", True)) if api not in OWN_KINDS else True
        if kind == "pytx":
            config["collab"].pop("enabled", None)
        try:
            _service(request).add(name, kind, name, config, enabled=enabled)
        except (NotFound,) as exc:
            raise HmaError(400, f"Failed to parse `api_json` - {exc}") from None
        return JSONResponse({"message": "Created successfully"}, status_code=201)

    return await run_in_threadpool(_answer, run)


def check_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Z0-9_]+", name) is not None


@router.get("/c/exchange/{exchange_name}")
def exchange_show(request: Request, exchange_name: str, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _exchange_json(_get(request, exchange_name)))


def _get(request: Request, name: str):
    try:
        return _service(request).get(name)
    except NotFound:
        raise HmaError(404, f"Exchange '{name}' not found") from None


@router.get("/c/exchange/{exchange_name}/status")
def exchange_status(request: Request, exchange_name: str, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        from crossmatch.exchange.models import ExchangeItem

        row = _get(request, exchange_name)
        with request.app.state.ctx.sessions() as session:
            fetched = session.scalar(select(func.count()).select_from(ExchangeItem).where(
                ExchangeItem.exchange_id == row.id, ExchangeItem.deleted.is_(False))) or 0
        synced = int(row.last_sync_at.timestamp()) if row.last_sync_at else 0
        due = row.interval_seconds > 0 and (not synced or time.time() - synced > row.interval_seconds)
        return {"checkpoint_ts": synced if row.checkpoint else 0, "running_fetch_start_ts": None,
                "last_fetch_complete_ts": synced or None, "last_fetch_succeeded": None if not synced else row.last_error is None,
                "up_to_date": bool(synced) and not due, "fetched_items": int(fetched)}

    return _answer(run)


@router.put("/c/exchange/{exchange_name}")
async def exchange_update(request: Request, exchange_name: str, _: Any = CURATE) -> JSONResponse:
    body = await _json(request)  # an HmaError answers through hma_error_response

    def run() -> dict:
        _get(request, exchange_name)
        if isinstance(body, dict) and body.get("enabled") is not None:
            return _exchange_json(_service(request).update(exchange_name, enabled=bool(body["enabled"])))
        return _exchange_json(_get(request, exchange_name))

    return await run_in_threadpool(_answer, run)


@router.delete("/c/exchange/{exchange_name}")
def exchange_delete(request: Request, exchange_name: str, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        try:
            _service(request).remove(exchange_name)  # the bank and its items stay, as in HMA
        except NotFound:
            pass  # HMA: deleting an exchange that is not there succeeds
        return {"message": "Exchange deleted"}

    return _answer(run)


# -- HMA's service routes ----------------------------------------------------------
@router.get("/status", response_class=PlainTextResponse, summary="HMA readiness: I-AM-ALIVE once the index can serve")
def status(request: Request) -> PlainTextResponse:
    try:
        request.app.state.ctx.indexes.current()
    except Exception:  # noqa: BLE001 - any failure to reach the store means not ready
        return PlainTextResponse("INDEX-NOT-LOADED", status_code=503)
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/status/live", response_class=PlainTextResponse, summary="HMA liveness: the process answers")
def status_live() -> PlainTextResponse:
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/site-map", summary="Every route path, sorted (HMA)")
def site_map(request: Request) -> list[str]:
    # Included routers are not flat in app.routes on every FastAPI version; the schema lists every API path.
    paths = set(request.app.openapi().get("paths", {}))
    return sorted(paths | {getattr(route, "path", "") for route in request.app.routes if getattr(route, "path", "")})


@router.get("/openapi/openapi.json", summary="The OpenAPI schema at HMA's path")
def openapi_at_hma_path(request: Request) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(request.app.openapi())))
