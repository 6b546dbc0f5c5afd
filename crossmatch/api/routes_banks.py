"""Banks and bank items: CRUD, import and policies (curators write, reviewers read)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from crossmatch.actions.policy import POLICY_KEY, policy_from_options
from crossmatch.api.errors import ERROR_RESPONSES
from crossmatch.api.schemas import (
    BankIn, BankOut, BankPatch, ImportOut, ItemOut, ItemPatch, ItemsIn, ItemsUpsertOut, Offset, PolicyIn,
)
from crossmatch.auth.dependencies import require_role
from crossmatch.auth.roles import BANK_READ, BANK_WRITE, Principal
from crossmatch.banks.importers import import_path
from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.errors import InvalidInput
from crossmatch.items import NO_MEDIA, iter_records
from crossmatch.signals.base import Signal

router = APIRouter(prefix="/api/v1/banks", tags=["banks"], responses=ERROR_RESPONSES)
READ = Depends(require_role(*BANK_READ, *BANK_WRITE))
WRITE = require_role(*BANK_WRITE)


def bank_out(bank, stats: dict | None = None) -> dict:
    out = {k: getattr(bank, k) for k in ("name", "kind", "enabled", "description", "labels", "thresholds", "options", "created_at")}
    return {**out, **(stats or {})}


def item_out(item, signals=None) -> dict:
    out = {"id": item.external_id, "enabled": item.enabled, "labels": item.labels or {}, "content_kind": item.content_kind,
           "confirmed_count": item.confirmed_count or 0, "rejected_count": item.rejected_count or 0}
    if signals is not None:
        out["signals"] = [{"type": s.type, "value": s.value, "quality": s.quality, "meta": s.meta or {}} for s in signals]
    return out


@router.get("", response_model=list[BankOut], dependencies=[READ])
def list_banks(request: Request) -> list[dict]:
    return [bank_out(b) for b in request.app.state.ctx.banks.list_banks()]


@router.post("", response_model=BankOut, status_code=201)
def create_bank(body: BankIn, request: Request, who: Principal = Depends(WRITE)) -> dict:
    state = request.app.state
    spec = BankSpec(**body.model_dump())
    _check_thresholds(request, spec.thresholds)
    if POLICY_KEY in spec.options:
        policy_from_options(spec.options, spec.name)
    bank = state.ctx.banks.create_bank(spec)
    state.audit.record(who.actor, "bank.create", bank.name, {"kind": bank.kind})
    return bank_out(bank)


@router.get("/{bank}", response_model=BankOut, dependencies=[READ])
def get_bank(bank: str, request: Request) -> dict:
    banks = request.app.state.ctx.banks
    row = banks.get_bank(bank)
    return bank_out(row, banks.bank_stats(row.id))


@router.patch("/{bank}", response_model=BankOut)
def update_bank(bank: str, body: BankPatch, request: Request, who: Principal = Depends(WRITE)) -> dict:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("nothing to change: give at least one of kind, description, labels, thresholds, options, enabled")
    _check_thresholds(request, changes.get("thresholds", {}))
    if POLICY_KEY in changes.get("options", {}):
        policy_from_options(changes["options"], bank)
    row = request.app.state.ctx.banks.update_bank(bank, **changes)
    request.app.state.audit.record(who.actor, "bank.update", bank, {"changes": changes})
    return bank_out(row)


@router.delete("/{bank}", status_code=204, response_class=Response)
def delete_bank(bank: str, request: Request, who: Principal = Depends(WRITE)) -> Response:
    request.app.state.ctx.banks.delete_bank(bank)
    request.app.state.audit.record(who.actor, "bank.delete", bank, {})
    return Response(status_code=204)


@router.get("/{bank}/policy", response_model=PolicyIn, dependencies=[READ])
def get_policy(bank: str, request: Request) -> dict:
    row = request.app.state.ctx.banks.get_bank(bank)
    return policy_from_options(row.options, bank).model_dump()


@router.put("/{bank}/policy", response_model=PolicyIn)
def set_policy(bank: str, body: PolicyIn, request: Request, who: Principal = Depends(WRITE)) -> dict:
    banks = request.app.state.ctx.banks
    options = dict(banks.get_bank(bank).options or {})
    options[POLICY_KEY] = body.model_dump()
    banks.update_bank(bank, options=options)
    request.app.state.audit.record(who.actor, "bank.policy", bank, body.model_dump())
    return body.model_dump()


@router.get("/{bank}/items", response_model=list[ItemOut], dependencies=[READ])
def list_items(bank: str, request: Request, limit: int = Query(100, ge=1, le=1000), offset: Offset = 0) -> list[dict]:
    return [item_out(i) for i in request.app.state.ctx.banks.list_items(bank, limit, offset)]


@router.put("/{bank}/items", response_model=ItemsUpsertOut, summary="Add or update items by id (idempotent)")
def upsert_items(bank: str, body: ItemsIn, request: Request, who: Principal = Depends(WRITE)) -> dict:
    registry = request.app.state.ctx.registry
    items = []
    for item in body.items:
        try:
            signals = [Signal(s.type, registry.get(s.type).validate(s.value)) for s in item.signals]
        except Exception as exc:
            raise InvalidInput(f"item {item.id!r}: {exc}") from None
        items.append(ItemUpsert(item.id, signals, item.labels, item.content_kind))
    statuses = request.app.state.ctx.banks.upsert_items(bank, items)
    request.app.state.audit.record(who.actor, "bank.items.upsert", bank, {"items": len(items), "added": statuses.count("added")})
    return {"statuses": {i.external_id: s for i, s in zip(items, statuses)}}


@router.get("/{bank}/items/{item_id:path}", response_model=ItemOut, dependencies=[READ])
def get_item(bank: str, item_id: str, request: Request) -> dict:
    item, signals = request.app.state.ctx.banks.get_item(bank, item_id)
    return item_out(item, signals)


@router.patch("/{bank}/items/{item_id:path}", response_model=ItemOut)
def set_item(bank: str, item_id: str, body: ItemPatch, request: Request, who: Principal = Depends(WRITE)) -> dict:
    banks = request.app.state.ctx.banks
    banks.set_item_enabled(bank, item_id, body.enabled)
    request.app.state.audit.record(who.actor, "bank.item.enable" if body.enabled else "bank.item.disable", f"{bank}/{item_id}", {})
    return item_out(banks.get_item(bank, item_id)[0])


@router.delete("/{bank}/items/{item_id:path}", status_code=204, response_class=Response)
def delete_item(bank: str, item_id: str, request: Request, who: Principal = Depends(WRITE)) -> Response:
    request.app.state.ctx.banks.delete_item(bank, item_id)
    request.app.state.audit.record(who.actor, "bank.item.delete", f"{bank}/{item_id}", {})
    return Response(status_code=204)


IMPORT_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "A hash-list .csv or an items .jsonl (text/url items)"},
                   "source": {"type": "string", "maxLength": 200}}}}}}}


@router.post("/{bank}/import", response_model=ImportOut, openapi_extra=IMPORT_BODY,
             summary="Import a hash-list CSV (signal_type,signal[,id,...]) or a JSONL of text/url items")
async def import_items(bank: str, request: Request, who: Principal = Depends(WRITE)) -> dict:
    state = request.app.state
    limit = state.settings.service.max_upload_bytes
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as exc:
        raise InvalidInput(f"the multipart body cannot be read ({exc}); upload the list as field 'file'") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("upload the hash list as a multipart file field named 'file'")
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise InvalidInput(f"file {upload.filename!r} must end in .csv (hash list) or .jsonl (items)")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"file {upload.filename!r} is over the {limit}-byte upload limit")
    if suffix == ".jsonl":
        _refuse_media_paths(data, upload.filename or "upload.jsonl")
    source = form.get("source") if isinstance(form.get("source"), str) else None

    def run() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            report = import_path(state.settings, state.ctx.banks, state.ctx.registry, bank, path, source=source,
                                 media=NO_MEDIA).to_json()  # an upload never names files on this server
        for err in report["errors"]:  # name the uploaded file, not the server's temp path
            err["item"] = err["item"].replace(str(path), upload.filename or "upload")
        return report

    report = await run_in_threadpool(run)
    state.audit.record(who.actor, "bank.import", bank, {"file": upload.filename, **{k: report[k] for k in ("added", "updated", "unchanged")},
                                                        "errors": len(report["errors"])})
    return report


def _refuse_media_paths(data: bytes, name: str) -> None:
    # An uploaded JSONL naming "media" files would make the server read its own disk. The importer
    # reads nothing for uploads anyway (NO_MEDIA); this refuses the whole upload early, through the
    # importer's own line parser, so the two can never disagree on where a record starts.
    for where, record in iter_records(io.BytesIO(data), name):
        if isinstance(record, dict) and record.get("media"):
            raise InvalidInput(f"{where}: uploaded JSONL items may carry only text or url; "
                               "import media folders with `crossmatch bank import` on the server")


def _check_thresholds(request: Request, thresholds: dict[str, float]) -> None:
    registry = request.app.state.ctx.registry
    for name in thresholds:
        if name not in registry:
            raise InvalidInput(f"unknown signal type {name!r} in thresholds; known types: {', '.join(registry.names())}")
