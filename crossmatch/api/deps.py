"""Small helpers shared by the routers: services from app.state, content from a request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from crossmatch.api.schemas import TextIn
from crossmatch.errors import InvalidInput
from crossmatch.items import MAX_JSON_DEPTH, json_depth, sniff_kind
from crossmatch.signals.base import Content

# One request body, two shapes: documented in OpenAPI for the routes that take content.
_TEXT_SCHEMA = TextIn.model_json_schema()
_TEXT_SCHEMA.pop("title", None)
CONTENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _TEXT_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        # Short text (at most 200 characters), or who posted it as a JSON object (outlets).
                        "source": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "string", "pattern": "^\\s*\\{"}],
                                   "description": "short text, or who posted it as a JSON object"},
                        "idempotency_key": {"type": "string", "maxLength": 200},
                    },
                }
            },
        },
    }
}


@dataclass
class ContentIn:
    content: Content
    source: str | dict[str, Any] | None = None  # a dict: who posted it (outlets)
    idempotency_key: str | None = None


def loads_bounded(data: bytes) -> Any:
    """``json.loads`` of a request body that refuses deep nesting with a 422 (json.loads recurses per level)."""
    text = data.decode("utf-8")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise InvalidInput(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels; send {{\"text\": ...}} or {{\"url\": ...}}")
    return json.loads(text)


async def read_content(request: Request) -> ContentIn:
    """Content from a multipart upload (field ``file``) or a JSON body ``{"text"}`` / ``{"url"}``."""
    limit = request.app.state.settings.service.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise InvalidInput(f"the request is {length} bytes, over the {limit}-byte upload limit")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await _from_form(request, limit)
    if ctype in ("application/json", ""):
        try:
            body = loads_bounded(await request.body() or b"null")
            parsed = TextIn.model_validate(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("the body is not valid JSON; send {\"text\": ...} or upload a file as multipart field 'file'") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise InvalidInput(f"{where}: {first['msg']}") from None
        item = (parsed.item or "").encode("utf-8", "replace").decode("utf-8") or ("text" if parsed.text is not None else (parsed.url or "url"))[:500]
        if parsed.text is not None:
            # JSON may carry lone surrogates (\ud800), which no UTF-8 text has: replaced, not a 500.
            data = parsed.text.encode("utf-8", "replace")
            content = Content(item, "text", text=data.decode("utf-8"), data=data)
        else:
            content = Content(item, "url", url=parsed.url.encode("utf-8", "replace").decode("utf-8"))
        return ContentIn(content, parsed.source, parsed.idempotency_key)
    raise InvalidInput(f"content type {ctype!r} is not accepted: send application/json or multipart/form-data")


async def _from_form(request: Request, limit: int) -> ContentIn:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart bodies raise several parser errors
        raise InvalidInput(f"the multipart body cannot be read ({exc}); upload the file as field 'file'") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("multipart uploads need the content in a file field named 'file'")
    data = await upload.read(limit + 1)
    await upload.close()
    if len(data) > limit:
        raise InvalidInput(f"file {upload.filename!r} is over the {limit}-byte upload limit")
    if not data:
        raise InvalidInput(f"file {upload.filename!r} is empty")
    name = (upload.filename or "upload")[:500]
    kind = sniff_kind(data, name)
    source: Any = form.get("source")
    if isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            source = json.loads(source)  # who posted it, as a JSON object
        except json.JSONDecodeError:
            pass  # kept as text; the outlets source parser never sees it
    key = form.get("idempotency_key")
    for field, value in (("source", source), ("idempotency_key", key)):
        if isinstance(value, str) and len(value) > 200:  # as the OpenAPI schema and the JSON body say
            raise InvalidInput(f"multipart field {field!r} of {name!r} is {len(value)} characters; at most 200 are allowed")
    if kind == "text":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"text file {name!r} is not valid UTF-8 (byte {exc.start}); re-encode it as UTF-8") from None
        content = Content(name, "text", data=data, text=text)
    else:
        content = Content(name, kind, data=data)
    return ContentIn(content, source if isinstance(source, (str, dict)) else None, key if isinstance(key, str) else None)
