"""HMA-compatible routes: ``/h`` (hash) and ``/m`` (match) here, ``/c`` (curate) in
:mod:`crossmatch.api.hma_curation`; shaped as Meta's
Hasher-Matcher-Actioner (OpenMediaMatch blueprints) answers them, so an existing
HMA client works unchanged against crossmatch.

Auth: HMA has none; here each route group needs a token with the matching role
(hasher / matcher / curator) unless ``settings.exchange.hma_anonymous`` is set
for a closed network.  Errors use HMA's ``{"message": ...}`` shape.
Deviations are listed in docs/exchange.md (no URL fetching, enabled ratio).
"""

from __future__ import annotations

import inspect
import json
import random
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from crossmatch.api.schemas import ErrorOut
from crossmatch.auth.dependencies import require_role
from crossmatch.errors import Conflict, CrossmatchError, NotFound
from crossmatch.signals.base import Content, ContentError, InvalidSignal, Signal
from crossmatch.signals.registry import RegistryError
from crossmatch.store.models import SignalRow

ContentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
CONTENT_KINDS = {"photo": "image", "video": "video"}  # HMA content type names -> crossmatch kinds
RATIO = "hma_enabled_ratio"  # kept in bank options; crossmatch itself only knows enabled / disabled


def _auth(*roles: str) -> Callable[..., Any]:
    check = require_role(*roles)

    async def dependency(request: Request) -> Any:
        if request.app.state.settings.exchange.hma_anonymous:
            return None
        principal = check(request, None)  # the role check reads the header itself; ``None`` fills its OpenAPI slot
        return await principal if inspect.isawaitable(principal) else principal

    return Depends(dependency)


class HmaMessage(BaseModel):
    message: str


# What the HMA routes really answer, so the OpenAPI schema matches behaviour (issue 15, finding 20):
# HMA's {"message"} for its own errors, crossmatch's {"error", "detail"} for auth, validation and load.
_EITHER = {"anyOf": [{"$ref": "#/components/schemas/HmaMessage"}, {"$ref": "#/components/schemas/ErrorOut"}]}
HMA_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": HmaMessage, "description": "Malformed input (HMA answers 400 to any bad request)"},
    401: {"model": ErrorOut, "description": "No or bad credentials"},
    403: {"description": "Role not allowed, or (HMA) the bank already exists", "content": {"application/json": {"schema": _EITHER}}},
    404: {"model": HmaMessage, "description": "No such bank or content"},
    415: {"model": HmaMessage, "description": "A JSON body not sent as application/json"},
    429: {"model": ErrorOut, "description": "Rate limited"},
    503: {"model": ErrorOut, "description": "At capacity: retry after Retry-After seconds"},
}
router = APIRouter(tags=["hma-compat"], responses=HMA_RESPONSES)
HASH, MATCH, CURATE = _auth("hasher", "matcher"), _auth("matcher"), _auth("curator")


class HmaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _answer(fn: Callable[[], Any], status: int = 200) -> JSONResponse:
    """Run ``fn``; domain errors become HMA's ``{"message"}`` with HMA's status codes."""
    try:
        return JSONResponse(fn(), status_code=status)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)
    except NotFound as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)
    except Conflict as exc:
        return JSONResponse({"message": str(exc)}, status_code=403)  # HMA: "Bank already exists" is 403
    except (CrossmatchError, InvalidSignal, ContentError, RegistryError, ValueError, TypeError) as exc:
        # HMA answers 400 to any malformed input (wrong JSON shapes, non-numbers where numbers go).
        return JSONResponse({"message": str(exc)}, status_code=400)


def _distance(value: float | None, score: float | None) -> str:
    number = value if value is not None else score
    if number is None:
        return "0"
    return str(int(number)) if float(number).is_integer() else f"{number:.4g}"


def _lookup(request: Request, signal_type: str, signal: str) -> list:
    ctx = request.app.state.ctx
    value = ctx.registry.get(signal_type).validate(signal)
    return ctx.engine.lookup([Signal(signal_type, value)])


def _bank_filter(banks: str | None) -> set[str] | None:
    return {b for b in banks.split(",") if b} if banks else None


def _by_bank(request: Request, matches: list, banks: set[str] | None, seed: str | None, bypass: bool) -> dict[str, list]:
    coinflip = 0.0 if bypass else random.Random(seed).random()
    ratios = {b.name: float((b.options or {}).get(RATIO, 1.0)) for b in request.app.state.ctx.banks.list_banks()}
    out: dict[str, list] = {}
    for m in matches:
        if (banks is not None and m.bank not in banks) or ratios.get(m.bank, 1.0) < coinflip:
            continue
        out.setdefault(m.bank, []).append({"bank_content_id": m.bank_item_id, "distance": _distance(m.distance, m.score)})
    return out


async def _hash_upload(request: Request) -> dict[str, str]:
    """HMA's form upload: one file whose field name is the content type (``photo`` or ``video``)."""
    form = await request.form()
    files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise HmaError(400, "Missing multipart/form-data file upload")
    if len(files) > 1:
        raise HmaError(400, "Only one file allowed per request")
    name, upload = files[0]
    if name not in CONTENT_KINDS:
        raise HmaError(400, f"no such content_type: '{name}'")
    limit = request.app.state.settings.service.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HmaError(400, f"the file is over the {limit}-byte upload limit")
    content = Content(item=upload.filename or name, kind=CONTENT_KINDS[name], data=data)  # type: ignore[arg-type]
    hashed = await run_in_threadpool(request.app.state.ctx.engine.hash, content)
    out: dict[str, str] = {}
    for s in hashed.signals:
        if not s.meta.get("query_only") and s.type not in out:
            out[s.type] = s.value
    if not out:
        raise HmaError(400, hashed.error or f"no signal could be made from this {name}")
    types = request.query_params.get("types")
    if types:
        wanted = [t.strip() for t in types.split(",") if t.strip()]
        out = {t: v for t, v in out.items() if t in wanted}
    return out


async def _hash_or_error(request: Request) -> dict[str, str] | JSONResponse:
    try:
        return await _hash_upload(request)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)


# -- hashing -------------------------------------------------------------------
@router.get("/h/hash")
def hash_url(url: str | None = None, _: Any = HASH) -> JSONResponse:
    return JSONResponse({"message": "crossmatch does not fetch URLs; POST the file as multipart/form-data (field photo or video)"},
                        status_code=400)


@router.post("/h/hash")
async def hash_post(request: Request, _: Any = HASH) -> Any:
    return await _hash_or_error(request)


# -- matching ------------------------------------------------------------------
@router.get("/m/raw_lookup")
def raw_lookup(request: Request, signal_type: str, signal: str, include_distance: bool = False,
               banks: str | None = None, _: Any = MATCH) -> JSONResponse:
    def run() -> dict:
        wanted = _bank_filter(banks)
        matches = [m for m in _lookup(request, signal_type, signal) if wanted is None or m.bank in wanted]
        if include_distance:
            return {"matches": [{"bank_content_id": m.bank_item_id, "distance": _distance(m.distance, m.score)} for m in matches]}
        return {"matches": [m.bank_item_id for m in matches]}

    return _answer(run)


@router.get("/m/lookup")
def lookup_get(request: Request, signal_type: str | None = None, signal: str | None = None, url: str | None = None,
               banks: str | None = None, seed: str | None = None, bypass_coinflip: bool = False, _: Any = MATCH) -> JSONResponse:
    def run() -> dict:
        if url:
            raise HmaError(400, "crossmatch does not fetch URLs; POST the file to /m/lookup instead")
        if not signal or not signal_type:
            raise HmaError(400, "Either url or both signal and signal_type are required")
        return _by_bank(request, _lookup(request, signal_type, signal), _bank_filter(banks), seed, bypass_coinflip)

    return _answer(run)


@router.post("/m/lookup")
async def lookup_post(request: Request, banks: str | None = None, seed: str | None = None,
                      bypass_coinflip: bool = False, _: Any = MATCH) -> Any:
    hashes = await _hash_or_error(request)
    if isinstance(hashes, JSONResponse):
        return hashes

    def run() -> dict:
        return {t: _by_bank(request, _lookup(request, t, v), _bank_filter(banks), seed, bypass_coinflip) for t, v in hashes.items()}

    return await run_in_threadpool(_answer, run)


async def json_body(request: Request, empty: bytes = b"null") -> Any:
    """A JSON body, only when sent as JSON: a cross-site ``text/plain`` form must not pass for one (issue 15, 13)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise HmaError(415, f"this endpoint expects a JSON body sent as Content-Type: application/json, not {ctype or 'none'!r}")
    try:
        return json.loads(await request.body() or empty)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HmaError(400, "this endpoint expects a json object payload") from None


@router.post("/m/compare")
async def compare(request: Request, _: Any = MATCH) -> JSONResponse:
    try:
        body = await json_body(request)
    except HmaError as exc:
        if exc.status != 400:
            return JSONResponse({"message": str(exc)}, status_code=exc.status)
        body = None

    def run() -> dict:
        if not isinstance(body, dict):
            raise HmaError(400, "Request input was not a dict")
        registry = request.app.state.ctx.registry
        out = {}
        for type_name, pair in body.items():
            if not isinstance(pair, list):
                raise HmaError(400, f"Comparison hashes for {type_name} was not a list")
            if len(pair) != 2:
                raise HmaError(400, "Comparison hash list length must be exactly 2")
            if type_name not in registry:
                raise HmaError(400, f"No such SignalType '{type_name}'")
            st = registry.get(type_name)
            try:
                left, right = (Signal(type_name, st.validate(str(v))) for v in pair)
            except InvalidSignal as exc:
                raise HmaError(400, f"Invalid {type_name} hash: {exc}") from None
            value = st.compare(left, right)
            threshold = st.default_threshold
            matched = value <= threshold if st.metric == "distance" else value >= threshold
            out[type_name] = [bool(matched), {"distance": int(value) if float(value).is_integer() else value}]
        return out

    return _answer(run)


@router.get("/m/index/status")
def index_status(request: Request, signal_type: str | None = None, _: Any = MATCH) -> JSONResponse:
    def run() -> dict:
        ctx = request.app.state.ctx
        names = ctx.registry.names()
        if signal_type is not None:
            if signal_type not in names:
                raise HmaError(400, f"No such signal type '{signal_type}'")
            names = [signal_type]
        with ctx.sessions() as session:
            sizes = dict(session.execute(select(SignalRow.type, func.count()).group_by(SignalRow.type)).all())
        built_to = ctx.banks.latest_change()
        return {n: {"present": True, "built_to": built_to, "size": int(sizes.get(n, 0))} for n in names}

    return _answer(run)
