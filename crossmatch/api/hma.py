"""HMA-compatible routes: ``/h`` (hash) and ``/m`` (match) here, ``/c`` (curate) in
:mod:`crossmatch.api.hma_curation`; shaped as Meta's
Hasher-Matcher-Actioner (OpenMediaMatch blueprints) answers them, so an existing
HMA client works unchanged against crossmatch.

Auth: HMA has none; here each route group needs a token with the matching role
(``/h`` hasher or matcher, ``/m`` matcher, ``/c`` curator; one curator token opens all
three, which is what an HMA client's session needs) unless
``settings.exchange.hma_anonymous`` is set for a closed network.  Errors use HMA's
``{"message": ...}`` shape (see :func:`crossmatch.api.errors.install_error_handlers`).

Uploads go through crossmatch's own pipeline: ``POST /m/lookup`` scans with variants,
regions and the deep pass within ``exchange.hma_deep_budget_s`` (so HMA clients get
crossmatch's recall), content-add stores the bank-side signals.  URLs are fetched only
from hosts listed in ``exchange.hma_fetch_hosts``.  Deviations: docs/exchange.md.
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
# A curator may hash and match too: an HMA client uses one session (one token) for /h, /m and /c.
HASH, MATCH, CURATE = _auth("hasher", "matcher", "curator"), _auth("matcher", "curator"), _auth("curator")
HMA_PREFIXES = ("/h/", "/m/", "/c/")


class HmaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hma_error_response(request: Request, exc: HmaError) -> JSONResponse:
    """An HmaError raised anywhere in an HMA route (reading the body included) answers as HMA does."""
    return JSONResponse({"message": str(exc)}, status_code=exc.status)


def _answer(fn: Callable[[], Any], status: int = 200) -> JSONResponse:
    """Run ``fn``; domain errors become HMA's ``{"message"}`` with HMA's status codes."""
    try:
        out = fn()
        return out if isinstance(out, JSONResponse) else JSONResponse(out, status_code=status)
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


def _by_bank(request: Request, matches: list, banks: set[str] | None, seed: str | None, bypass: bool,
             by_type: bool = False) -> dict:
    """HMA's ``{bank: [{"bank_content_id", "distance"}]}`` (``by_type``: one such per signal type),
    one entry per bank item, after HMA's per-request coin flip against each bank's enabled ratio."""
    coinflip = 0.0 if bypass else random.Random(seed).random()
    ratios = {b.name: float((b.options or {}).get(RATIO, 1.0)) for b in request.app.state.ctx.banks.list_banks()}
    out: dict = {}
    seen: set[tuple] = set()
    for m in matches:
        if (banks is not None and m.bank not in banks) or ratios.get(m.bank, 1.0) < coinflip:
            continue
        key = (m.signal_type if by_type else "", m.bank_item_id)
        if key in seen:
            continue
        seen.add(key)
        target = out.setdefault(m.signal_type, {}) if by_type else out
        target.setdefault(m.bank, []).append({"bank_content_id": m.bank_item_id, "distance": _distance(m.distance, m.score)})
    return out


async def read_upload(request: Request) -> Content:
    """The content an HMA client sends: a multipart file whose field name is the content type
    (``photo`` or ``video``), or ``?url=`` from a host in ``exchange.hma_fetch_hosts``."""
    url = request.query_params.get("url")
    if url:
        return await run_in_threadpool(fetch_url, request, url, request.query_params.get("content_type"))
    form = await request.form()
    files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise HmaError(400, "Neither `url` nor multipart file upload was received")
    if len(files) > 1:
        raise HmaError(400, "Only one file allowed per request")
    name, upload = files[0]
    if name not in CONTENT_KINDS:
        raise HmaError(400, f"no such content_type: '{name}'")
    limit = request.app.state.settings.service.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HmaError(400, f"the file is over the {limit}-byte upload limit")
    return Content(item=upload.filename or name, kind=CONTENT_KINDS[name], data=data)  # type: ignore[arg-type]


def fetch_url(request: Request, url: str, content_type: str | None) -> Content:
    """HMA's ``?url=``: fetched only from allow-listed hosts (a server that fetches any URL
    its callers name can be pointed at internal services), no redirects, within the upload limit."""
    from urllib.parse import urlsplit

    import httpx

    settings = request.app.state.settings
    host = (urlsplit(url).hostname or "").lower()
    allowed = {h.lower() for h in settings.exchange.hma_fetch_hosts}
    if not allowed:
        raise HmaError(400, "this server does not fetch URLs (exchange.hma_fetch_hosts is empty); POST the file as multipart/form-data (field photo or video)")
    if host not in allowed:
        raise HmaError(400, f"host {host!r} is not in exchange.hma_fetch_hosts; POST the file instead or ask an admin to allow the host")
    limit = settings.service.max_upload_bytes
    try:
        with httpx.stream("GET", url, timeout=settings.exchange.hma_fetch_timeout_s, follow_redirects=False) as resp:
            if resp.status_code != 200:
                raise HmaError(400, f"fetching {url} answered HTTP {resp.status_code}")
            data = bytearray()
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise HmaError(400, f"{url} is over the {limit}-byte upload limit")
            mime = resp.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise HmaError(400, f"could not fetch {url}: {type(exc).__name__}") from None
    name = content_type or ("video" if mime.startswith("video/") else "photo")
    if name not in CONTENT_KINDS:
        raise HmaError(400, f"no such content_type: '{name}'")
    return Content(item=url, kind=CONTENT_KINDS[name], data=bytes(data))  # type: ignore[arg-type]


def first_per_type(signals: list, types: str | None = None, listed: list[str] | None = None) -> dict[str, str]:
    """HMA's ``{signal_type: hash}``: one (the whole item's) signal per type, no query-only variants;
    only the ``listed`` types (``exchange.hma_signal_types``) when any of them is there."""
    out: dict[str, str] = {}
    for s in signals:
        if not (s.meta or {}).get("query_only") and s.type not in out:
            out[s.type] = s.value
    if listed and any(t in out for t in listed):
        out = {t: v for t, v in out.items() if t in listed}
    if types:
        wanted = [t.strip() for t in types.split(",") if t.strip()]
        out = {t: v for t, v in out.items() if t in wanted}
    return out


def listed_types(request: Request) -> list[str]:
    return request.app.state.settings.exchange.hma_signal_types


def _hash(request: Request, content: Content) -> dict[str, str]:
    hashed = request.app.state.ctx.engine.hash(content)
    out = first_per_type(hashed.signals, request.query_params.get("types"), listed_types(request))
    if not out:
        raise HmaError(400, hashed.error or f"no signal could be made from this {content.kind}")
    return out


async def _upload_answer(request: Request, run: Callable[[Content], Any]) -> Any:
    """Read the upload, then run ``run(content)`` in a thread under the admission limit; HMA-shaped errors."""
    content = await read_upload(request)  # an HmaError answers through hma_error_response
    async with request.app.state.admission.slot():
        return await run_in_threadpool(_answer, lambda: run(content))


def _scan_by_type(request: Request, content: Content, principal: Any, banks: str | None, seed: str | None,
                  bypass: bool) -> JSONResponse:
    """crossmatch's whole pipeline (variants, regions, deep pass within the budget) in HMA's
    ``{signal_type: {bank: [match]}}``; an item not fully checked says so in a header (fail closed)."""
    from crossmatch.api.routes_scan import scan_within_budget

    owner = getattr(principal, "name", None) or "hma-anonymous"
    result, deep_pass = scan_within_budget(request.app.state, content, owner,
                                           request.app.state.settings.exchange.hma_deep_budget_s)
    if result.error and not result.signals:
        raise HmaError(400, result.error)
    out: dict[str, dict] = {t: {} for t in first_per_type(result.signals, listed=listed_types(request))}
    wanted = _bank_filter(banks)
    grouped = _by_bank(request, result.matches, wanted, seed, bypass, by_type=True)
    for signal_type, by_bank in grouped.items():
        out.setdefault(signal_type, {}).update(by_bank)
    headers = {"X-Crossmatch-Complete": "true" if result.complete else "false"}
    if deep_pass.get("submission_id"):
        headers["X-Crossmatch-Submission"] = str(deep_pass["submission_id"])
    return JSONResponse(out, headers=headers)


# -- hashing -------------------------------------------------------------------
@router.get("/h/hash")
async def hash_url(request: Request, _: Any = HASH) -> Any:
    if not request.query_params.get("url"):
        return JSONResponse({"message": "url is required"}, status_code=400)
    return await _upload_answer(request, lambda content: _hash(request, content))


@router.post("/h/hash")
async def hash_post(request: Request, _: Any = HASH) -> Any:
    return await _upload_answer(request, lambda content: _hash(request, content))


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
async def lookup_get(request: Request, signal_type: str | None = None, signal: str | None = None, url: str | None = None,
                     banks: str | None = None, seed: str | None = None, bypass_coinflip: bool = False,
                     principal: Any = MATCH) -> Any:
    if url:
        return await _upload_answer(request, lambda c: _scan_by_type(request, c, principal, banks, seed, bypass_coinflip))

    def run() -> dict:
        if not signal or not signal_type:
            raise HmaError(400, "Either url or both signal and signal_type are required")
        return _by_bank(request, _lookup(request, signal_type, signal), _bank_filter(banks), seed, bypass_coinflip)

    return await run_in_threadpool(_answer, run)


@router.post("/m/lookup")
async def lookup_post(request: Request, banks: str | None = None, seed: str | None = None,
                      bypass_coinflip: bool = False, principal: Any = MATCH) -> Any:
    return await _upload_answer(request, lambda c: _scan_by_type(request, c, principal, banks, seed, bypass_coinflip))


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


def signal_type_names(ctx, signal_type: str | None) -> list[str]:
    """Every registered signal type, or just the one asked for (HMA answers 400 for an unknown one)."""
    names = ctx.registry.names()
    if signal_type is None:
        return list(names)
    if signal_type not in names:
        raise HmaError(400, f"No such signal type '{signal_type}'")
    return [signal_type]


@router.get("/m/index/status")
def index_status(request: Request, signal_type: str | None = None, _: Any = MATCH) -> JSONResponse:
    def run() -> dict:
        ctx = request.app.state.ctx
        names = signal_type_names(ctx, signal_type)
        with ctx.sessions() as session:
            sizes = dict(session.execute(select(SignalRow.type, func.count()).group_by(SignalRow.type)).all())
        return {n: {"present": True, "built_to": index_built_to(ctx), "size": int(sizes.get(n, 0))} for n in names}

    return _answer(run)


def index_built_to(ctx: Any) -> int:
    """When the served index version last caught up with the store, as Unix seconds (HMA's
    ``built_to``); the index is read-your-writes, so this is the time of the latest look."""
    import time

    version = ctx.indexes.current()
    return int(time.time() - max(0.0, time.monotonic() - version.checked_at))
