"""HMA-compatible curation routes (``/c``): banks and bank content, shaped as HMA's
curation blueprint answers them.  Hashing and matching routes live in :mod:`crossmatch.api.hma`."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from crossmatch.api.hma import HMA_RESPONSES, json_body, CURATE, RATIO, ContentId, HmaError, _answer, _hash_or_error
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.signals.base import InvalidSignal, Signal
from crossmatch.store.models import BankItem

router = APIRouter(tags=["hma-compat"], responses=HMA_RESPONSES)


# -- curation ------------------------------------------------------------------
def _bank_config(bank) -> dict[str, Any]:
    ratio = float((bank.options or {}).get(RATIO, 1.0)) if bank.enabled else 0.0
    return {"name": bank.name, "matching_enabled_ratio": ratio}


@router.get("/c/banks")
def banks_index(request: Request, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: [_bank_config(b) for b in request.app.state.ctx.banks.list_banks()])


async def _json(request: Request) -> Any:
    return await json_body(request, b"{}")


def _ratio(body: dict) -> float | None:
    if body.get("enabled_ratio") is not None:
        try:
            ratio = float(body["enabled_ratio"])
        except (TypeError, ValueError):
            raise HmaError(400, "enabled_ratio must be a number between 0 and 1") from None
        if not 0.0 <= ratio <= 1.0:
            raise HmaError(400, "enabled_ratio must be between 0 and 1")
        return ratio
    if body.get("enabled") is not None:
        return 1.0 if body["enabled"] else 0.0
    return None


@router.post("/c/banks")
async def bank_create(request: Request, _: Any = CURATE) -> JSONResponse:
    try:
        body = await _json(request)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)

    def run() -> dict:
        if not isinstance(body, dict) or not body.get("name"):
            raise HmaError(400, "Field `name` is required")
        ratio = _ratio(body)
        ratio = 1.0 if ratio is None else ratio
        try:
            spec = BankSpec(name=str(body["name"]), enabled=ratio > 0, options={RATIO: ratio})
        except ValueError as exc:
            raise HmaError(400, str(exc).splitlines()[-1]) from None
        return _bank_config(request.app.state.ctx.banks.create_bank(spec))

    return await run_in_threadpool(_answer, run, 201)


@router.get("/c/bank/{bank_name}")
def bank_show(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _bank_config(request.app.state.ctx.banks.get_bank(bank_name)))


@router.put("/c/bank/{bank_name}")
async def bank_update(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    try:
        body = await _json(request)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)

    def run() -> dict:
        banks = request.app.state.ctx.banks
        bank = banks.get_bank(bank_name)
        if not isinstance(body, dict):
            raise HmaError(400, "this endpoint expects a json object payload")
        if body.get("name") not in (None, bank_name):
            raise HmaError(400, "crossmatch does not rename banks; create a new bank and sync or import into it")
        ratio = _ratio(body)
        if ratio is not None:
            bank = banks.update_bank(bank_name, enabled=ratio > 0, options={**(bank.options or {}), RATIO: ratio})
        return _bank_config(bank)

    return await run_in_threadpool(_answer, run)


@router.delete("/c/bank/{bank_name}")
def bank_delete(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        request.app.state.ctx.banks.delete_bank(bank_name)
        return {"message": "Done"}

    return _answer(run)


def _content(request: Request, bank_name: str, content_id: int) -> BankItem:
    ctx = request.app.state.ctx
    bank = ctx.banks.get_bank(bank_name)
    with ctx.sessions() as session:
        item = session.scalar(select(BankItem).where(BankItem.id == content_id, BankItem.bank_id == bank.id))
    if item is None:
        raise HmaError(404, f"content '{content_id}' not found")
    return item


@router.get("/c/bank/{bank_name}/content/{content_id}")
def bank_get_content(request: Request, bank_name: str, content_id: ContentId, include_signals: bool = False,
                     _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _content_json(request, bank_name, content_id, include_signals))


def _content_json(request: Request, bank_name: str, content_id: int, include_signals: bool) -> dict:
    ctx = request.app.state.ctx
    item = _content(request, bank_name, content_id)
    bank = ctx.banks.get_bank(bank_name)
    out: dict[str, Any] = {
        "id": item.id, "disable_until_ts": 0 if item.enabled else 1,
        # HMA keeps per-collaboration metadata; crossmatch's labels are the closest, as lists of strings.
        "collab_metadata": {k: [v] if isinstance(v, str) else [json.dumps(v)] for k, v in (item.labels or {}).items()},
        "original_media_uri": None, "bank": _bank_config(bank),
    }
    if include_signals:
        _, signals = ctx.banks.get_item(bank_name, item.external_id)
        out["signals"] = {s.type: s.value for s in signals if not (s.meta or {}).get("query_only")}
    return out


def _add_signals(request: Request, bank_name: str, signals: dict[str, str], metadata: dict | None) -> dict:
    ctx = request.app.state.ctx
    ctx.banks.get_bank(bank_name)
    if not signals:
        raise HmaError(400, "No signals given")
    valid: list[Signal] = []
    for name, value in signals.items():
        if name not in ctx.registry:
            raise HmaError(400, f"No such signal type {name}")
        try:
            valid.append(Signal(name, ctx.registry.get(name).validate(str(value))))
        except InvalidSignal as exc:
            raise HmaError(400, f"Invalid {name} signal: {exc}") from None
    meta = metadata or {}
    if not isinstance(meta, dict):
        raise HmaError(400, "metadata should be a json object")
    external_id = str(meta.get("content_id") or f"{valid[0].type}:{valid[0].value}")
    if len(external_id) > 500:
        raise HmaError(400, "content_id is longer than 500 characters")
    labels = {"source": "hma-api"}
    if meta.get("content_uri"):
        labels["content_uri"] = str(meta["content_uri"])
    if meta.get("json") is not None:
        labels["hma_json"] = meta["json"]
    ctx.banks.upsert_items(bank_name, [ItemUpsert(external_id, valid, labels)])
    item, _ = ctx.banks.get_item(bank_name, external_id)
    return {"id": item.id, "signals": {s.type: s.value for s in valid}}


@router.post("/c/bank/{bank_name}/content")
async def bank_add_content(request: Request, bank_name: str, _: Any = CURATE) -> Any:
    if request.query_params.get("url"):
        return JSONResponse({"message": "crossmatch does not fetch URLs; upload the file as multipart/form-data"}, status_code=400)
    hashes = await _hash_or_error(request)
    if isinstance(hashes, JSONResponse):
        return hashes
    metadata = None
    raw = request.query_params.get("metadata")
    if raw:
        try:
            metadata = json.loads(raw)
        except json.JSONDecodeError:
            return JSONResponse({"message": "metadata should be a json object"}, status_code=400)
    return await run_in_threadpool(_answer, lambda: _add_signals(request, bank_name, hashes, metadata))


@router.post("/c/bank/{bank_name}/signal")
async def bank_add_signal(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    try:
        body = await _json(request)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)
    if not isinstance(body, dict):
        return JSONResponse({"message": "this endpoint expects a json object payload"}, status_code=400)
    return await run_in_threadpool(_answer, lambda: _add_signals(request, bank_name, body, None))


@router.put("/c/bank/{bank_name}/content/{content_id}")
async def bank_update_content(request: Request, bank_name: str, content_id: ContentId, _: Any = CURATE) -> JSONResponse:
    try:
        body = await _json(request)
    except HmaError as exc:
        return JSONResponse({"message": str(exc)}, status_code=exc.status)

    def run() -> dict:
        item = _content(request, bank_name, content_id)
        if isinstance(body, dict) and "disable_until_ts" in body:
            try:
                until = int(body["disable_until_ts"])
            except (TypeError, ValueError):
                raise HmaError(400, "disable_until_ts must be a non-negative integer") from None
            if until < 0:
                raise HmaError(400, "disable_until_ts must be a non-negative integer")
            # crossmatch has no timed disable: any future time disables until re-enabled.
            request.app.state.ctx.banks.set_item_enabled(bank_name, item.external_id, until <= time.time())
        return _content_json(request, bank_name, content_id, False)

    return await run_in_threadpool(_answer, run)


@router.delete("/c/bank/{bank_name}/content/{content_id}")
def bank_delete_content(request: Request, bank_name: str, content_id: ContentId, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        item = _content(request, bank_name, content_id)
        request.app.state.ctx.banks.delete_item(bank_name, item.external_id)
        return {"deleted": 1}

    return _answer(run)
