"""HMA-compatible curation routes (``/c``): banks and bank content, shaped as HMA's
curation blueprint answers them.  Hashing and matching routes live in :mod:`crossmatch.api.hma`."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from crossmatch.api.hma import (HMA_RESPONSES, CURATE, RATIO, ContentId, HmaError, _answer, _upload_answer,
                                first_per_type, json_body, listed_types)
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.errors import Conflict, NotFound
from crossmatch.signals.base import Content, InvalidSignal, Signal
from crossmatch.store.models import Bank, BankItem

router = APIRouter(tags=["hma-compat"], responses=HMA_RESPONSES)
HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")  # HMA's rule (UPPER_WITH_UNDERSCORE), for banks made through /c
METADATA, NOTE, DISABLED_UNTIL = "hma_metadata", "note", "hma_disable_until_ts"  # where HMA's fields live in item labels
FIVE_YEARS_S = 5 * 365 * 86400


def check_hma_bank_name(name: Any) -> str:
    if not isinstance(name, str) or not HMA_BANK_NAME.fullmatch(name) or len(name) > 200:
        raise HmaError(400, f"Bank names must be UPPER_WITH_UNDERSCORE (/^[A-Z_][A-Z0-9_]*$/): {name!r}")
    return name


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
    body = await _json(request)  # an HmaError answers through hma_error_response

    def run() -> dict:
        if not isinstance(body, dict) or not body.get("name"):
            raise HmaError(400, "Field `name` is required")
        name = check_hma_bank_name(body["name"])
        ratio = _ratio(body)
        ratio = 1.0 if ratio is None else ratio
        try:
            spec = BankSpec(name=name, enabled=ratio > 0, options={RATIO: ratio})
        except ValueError as exc:
            raise HmaError(400, str(exc).splitlines()[-1]) from None
        try:
            return _bank_config(request.app.state.ctx.banks.create_bank(spec))
        except Conflict:
            raise HmaError(403, "Bank already exists") from None

    return await run_in_threadpool(_answer, run, 201)


@router.get("/c/bank/{bank_name}")
def bank_show(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _bank_config(request.app.state.ctx.banks.get_bank(bank_name)))


@router.put("/c/bank/{bank_name}")
async def bank_update(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    body = await _json(request)  # an HmaError answers through hma_error_response

    def run() -> dict:
        nonlocal bank_name
        banks = request.app.state.ctx.banks
        bank = banks.get_bank(bank_name)
        if not isinstance(body, dict):
            raise HmaError(400, "this endpoint expects a json object payload")
        if body.get("name") not in (None, bank_name):
            bank = _rename(request, bank_name, check_hma_bank_name(body["name"]))
            bank_name = bank.name
        ratio = _ratio(body)
        if ratio is not None:
            bank = banks.update_bank(bank_name, enabled=ratio > 0, options={**(bank.options or {}), RATIO: ratio})
        return _bank_config(bank)

    return await run_in_threadpool(_answer, run)


@router.delete("/c/bank/{bank_name}")
def bank_delete(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        try:
            request.app.state.ctx.banks.delete_bank(bank_name)
        except NotFound:
            pass  # HMA: deleting a bank that is not there succeeds
        return {"message": "Done"}

    return _answer(run)


def _item(request: Request, bank_name: str, content_id: int) -> BankItem | None:
    ctx = request.app.state.ctx
    bank = ctx.banks.get_bank(bank_name)
    with ctx.sessions() as session:
        return session.scalar(select(BankItem).where(BankItem.id == content_id, BankItem.bank_id == bank.id))


def _rename(request: Request, old: str, new: str) -> Bank:
    """HMA renames banks; exchanges that fill the bank follow it."""
    from sqlalchemy import update

    from crossmatch.exchange.models import Exchange

    try:
        bank = request.app.state.ctx.banks.rename_bank(old, new)
    except Conflict:
        raise HmaError(403, "Bank name already exists") from None
    with request.app.state.ctx.sessions.begin() as session:
        session.execute(update(Exchange).where(Exchange.bank_name == old).values(bank_name=new))
    return bank


def _content(request: Request, bank_name: str, content_id: int) -> BankItem:
    item = _item(request, bank_name, content_id)
    if item is None:
        raise HmaError(404, f"content '{content_id}' not found")
    return item


@router.get("/c/bank/{bank_name}/content/{content_id}")
def bank_get_content(request: Request, bank_name: str, content_id: ContentId, include_signals: bool = False,
                     include_metadata: bool = True, _: Any = CURATE) -> JSONResponse:
    return _answer(lambda: _content_json(request, bank_name, content_id, include_signals, include_metadata))


def disable_until_ts(item: BankItem) -> int:
    """HMA's value: 1 (``BankContentConfig.ENABLED``) for an enabled item, the time given for one
    disabled through HMA, 0 for one a curator or source disabled in crossmatch."""
    if item.enabled:
        return 1
    return int((item.labels or {}).get(DISABLED_UNTIL, 0))


def _content_json(request: Request, bank_name: str, content_id: int, include_signals: bool,
                  include_metadata: bool = True) -> dict:
    ctx = request.app.state.ctx
    item = _content(request, bank_name, content_id)
    labels = item.labels or {}
    out: dict[str, Any] = {"id": item.id, "disable_until_ts": disable_until_ts(item),
                           "original_media_uri": None, "bank": _bank_config(ctx.banks.get_bank(bank_name))}
    if include_signals:
        _, signals = ctx.banks.get_item(bank_name, item.external_id)
        found = first_per_type(signals, listed=listed_types(request))
        if found:
            out["signals"] = found
    if include_metadata:
        metadata = dict(labels.get(METADATA) or {})
        collab = _collab(request, bank_name, item.external_id)
        if collab:
            metadata["collab"] = collab
        if metadata:
            out["metadata"] = metadata
    if labels.get(NOTE):
        out["note"] = labels[NOTE]
    return out


def _collab(request: Request, bank_name: str, external_id: str) -> dict[str, list[str]]:
    """HMA's ``metadata.collab``: which exchanges supplied the item, with their keys."""
    from crossmatch.exchange.service import ExchangeService

    out: dict[str, list[str]] = {}
    for source in ExchangeService(request.app.state.ctx).item_sources(bank_name, external_id):
        if not source["deleted"]:
            out.setdefault(source["exchange"], []).append(str(source["key"]))
    return out


def check_metadata(raw: Any) -> dict[str, Any] | None:
    """HMA's ``BankedContentMetadata``: ``content_id``, ``content_uri`` (strings), ``json`` (object);
    any other key is refused, ``collab`` is the server's to fill and dropped."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise HmaError(400, "metadata should be a json object")
    raw = {k: v for k, v in raw.items() if k != "collab"}
    unknown = sorted(set(raw) - {"content_id", "content_uri", "json"})
    if unknown:
        raise HmaError(400, f"Invalid metadata: unknown field(s) {unknown}; allowed: content_id, content_uri, json")
    for key in ("content_id", "content_uri"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise HmaError(400, f"Invalid metadata: {key} should be a string")
    if raw.get("json") is not None and not isinstance(raw["json"], dict):
        raise HmaError(400, "Invalid metadata: json should be a json object")
    return {k: v for k, v in raw.items() if v is not None} or None


def check_note(note: Any) -> str | None:
    if not note:
        return None
    if not isinstance(note, str):
        raise HmaError(400, "note should be a string")
    if len(note) > 255:
        raise HmaError(400, "note must be at most 255 characters")
    return note


async def _metadata_and_note(request: Request) -> tuple[dict | None, str | None]:
    """HMA reads both from the JSON body or the multipart form fields; ``?metadata=`` is kept too."""
    raw_meta: Any = None
    note: Any = None
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await _json(request)
        if isinstance(body, dict):
            raw_meta, note = body.get("metadata"), body.get("note")
    elif request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        if isinstance(form.get("metadata"), str):
            try:
                raw_meta = json.loads(form["metadata"])  # type: ignore[arg-type]
            except (ValueError, TypeError):
                raise HmaError(400, "metadata form field must be valid JSON") from None
        note = form.get("note") if isinstance(form.get("note"), str) else None
    if raw_meta is None and request.query_params.get("metadata"):
        try:
            raw_meta = json.loads(request.query_params["metadata"])
        except json.JSONDecodeError:
            raise HmaError(400, "metadata should be a json object") from None
    return check_metadata(raw_meta), check_note(note)


def _new_external_id(request: Request, bank_name: str, content_id: str | None) -> str:
    """HMA makes a new item on every add, whatever its ``content_id``: a taken id gets a suffix,
    so a second image under the same ``content_id`` never replaces the first one's signals."""
    if not content_id:
        return f"hma:{uuid.uuid4().hex}"
    if len(content_id) > 400:
        raise HmaError(400, "content_id is longer than 400 characters")
    ctx = request.app.state.ctx
    bank = ctx.banks.get_bank(bank_name)
    with ctx.sessions() as session:
        taken = session.scalar(select(BankItem.id).where(BankItem.bank_id == bank.id, BankItem.external_id == content_id))
    return content_id if taken is None else f"{content_id}#{uuid.uuid4().hex[:12]}"


def _add_signals(request: Request, bank_name: str, signals: list[Signal], metadata: dict | None, note: str | None,
                 kind: str | None = None) -> dict:
    ctx = request.app.state.ctx
    ctx.banks.get_bank(bank_name)
    if not signals:
        raise HmaError(400, "No signals given")
    labels: dict[str, Any] = {"source": "hma-api"}
    if metadata:
        labels[METADATA] = metadata
        if metadata.get("content_uri"):
            labels["content_uri"] = metadata["content_uri"]
    if note:
        labels[NOTE] = note
    external_id = _new_external_id(request, bank_name, (metadata or {}).get("content_id"))
    ctx.banks.upsert_items(bank_name, [ItemUpsert(external_id, signals, labels, content_kind=kind)])
    item, _ = ctx.banks.get_item(bank_name, external_id)
    return {"id": item.id, "signals": first_per_type(signals, listed=listed_types(request))}


def _parse_signals(request: Request, given: dict[str, Any]) -> list[Signal]:
    ctx = request.app.state.ctx
    valid: list[Signal] = []
    for name, value in given.items():
        if name not in ctx.registry:
            raise HmaError(400, f"No such signal type {name}")
        try:
            valid.append(Signal(name, ctx.registry.get(name).validate(str(value))))
        except InvalidSignal as exc:
            raise HmaError(400, f"Invalid {name} signal: {exc}") from None
    return valid


@router.post("/c/bank/{bank_name}/content")
async def bank_add_content(request: Request, bank_name: str, _: Any = CURATE) -> Any:
    """Hash the upload as a bank item (bank-side crops included) and add it as a new item."""
    try:
        request.app.state.ctx.banks.get_bank(bank_name)
        metadata, note = await _metadata_and_note(request)
    except (HmaError, NotFound) as exc:
        return JSONResponse({"message": str(exc)}, status_code=getattr(exc, "status", 404))

    def run(content: Content) -> dict:
        hashed = request.app.state.ctx.engine.hash_for_bank(content)
        signals = [s for s in hashed.signals if not s.meta.get("query_only")]
        if not signals:
            raise HmaError(400, hashed.error or f"no signal could be made from this {content.kind}")
        return _add_signals(request, bank_name, signals, metadata, note, content.kind)

    return await _upload_answer(request, run)


@router.post("/c/bank/{bank_name}/signal")
async def bank_add_signal(request: Request, bank_name: str, _: Any = CURATE) -> JSONResponse:
    body = await _json(request)  # an HmaError answers through hma_error_response
    if not isinstance(body, dict):
        return JSONResponse({"message": "this endpoint expects a json object payload"}, status_code=400)

    def run() -> dict:
        request.app.state.ctx.banks.get_bank(bank_name)
        given = dict(body)
        note = check_note(given.pop("note", None))
        return _add_signals(request, bank_name, _parse_signals(request, given), None, note)

    return await run_in_threadpool(_answer, run)


def _set_labels(request: Request, item: BankItem, labels: dict[str, Any]) -> None:
    """Labels only (no signal changes): the index needs no refresh."""
    from sqlalchemy import update

    from crossmatch.store.db import serialise_bank_writes

    with request.app.state.ctx.sessions.begin() as session:
        serialise_bank_writes(session)
        session.execute(update(BankItem).where(BankItem.id == item.id).values(labels=labels))


@router.put("/c/bank/{bank_name}/content/{content_id}")
async def bank_update_content(request: Request, bank_name: str, content_id: ContentId, _: Any = CURATE) -> JSONResponse:
    body = await _json(request)  # an HmaError answers through hma_error_response

    def run() -> dict:
        item = _content(request, bank_name, content_id)
        if not isinstance(body, dict):
            raise HmaError(400, "this endpoint expects a json object payload")
        labels = dict(item.labels or {})
        if "disable_until_ts" in body:
            try:
                until = int(body["disable_until_ts"])
            except (TypeError, ValueError):
                raise HmaError(400, f"Invalid int: '{body['disable_until_ts']}'") from None
            if until < 0:
                raise HmaError(400, "disable_until_ts must be a non-negative integer")
            if until > time.time() + FIVE_YEARS_S:
                raise HmaError(400, "disable_until_ts must be less than 5 years in the future")
            enabled = until <= time.time()
            # crossmatch has no timed re-enable: the item stays disabled until a curator enables it.
            labels.pop(DISABLED_UNTIL, None)
            if not enabled:
                labels[DISABLED_UNTIL] = until
            request.app.state.ctx.banks.set_item_enabled(bank_name, item.external_id, enabled)
        if "note" in body:
            labels.pop(NOTE, None)
            note = check_note(body["note"])
            if note:
                labels[NOTE] = note
        if labels != (item.labels or {}):
            _set_labels(request, item, labels)
        return _content_json(request, bank_name, content_id, False, False)

    return await run_in_threadpool(_answer, run)


@router.delete("/c/bank/{bank_name}/content/{content_id}")
def bank_delete_content(request: Request, bank_name: str, content_id: ContentId, _: Any = CURATE) -> JSONResponse:
    def run() -> dict:
        item = _item(request, bank_name, content_id)
        if item is None:
            return {"deleted": 0}  # HMA: deleting what is not there succeeds
        request.app.state.ctx.banks.delete_item(bank_name, item.external_id)
        return {"deleted": 1}

    return _answer(run)
