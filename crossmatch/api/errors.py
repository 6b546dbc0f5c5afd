"""The one place domain errors become HTTP responses: {"error": ..., "detail": ...}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossmatch.api.admission import Overloaded
from crossmatch.api.schemas import ErrorOut
from crossmatch.auth.roles import Forbidden, RateLimited, Unauthenticated
from crossmatch.errors import Conflict, CrossmatchError, InvalidInput, NotFound
from crossmatch.signals.base import ContentError, InvalidSignal
from crossmatch.signals.registry import RegistryError

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (RateLimited, 429),
    (InvalidSignal, 422),
    (ContentError, 422),
    (RegistryError, 422),  # e.g. an unknown signal type named by the caller
    (Overloaded, 503),
]

# Documented on every route so clients (and schemathesis) know the error shape.
ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in [(401, "No or bad credentials"), (403, "Role not allowed"), (404, "Not found"), (409, "Conflict"),
                       (422, "Invalid input"), (429, "Rate limited"), (503, "At capacity: retry after Retry-After seconds")]
}


def error_body(error: str, detail: str, **extra: object) -> dict:
    return {"error": error, "detail": detail, **extra}


def _domain(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, (RateLimited, Overloaded)):
        headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
    name = type(exc).__name__
    if isinstance(exc, (InvalidSignal, ContentError, RegistryError)):
        name = "InvalidInput"
    return JSONResponse(error_body(name, str(exc)), status_code=status, headers=headers)


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    detail = "; ".join(problems[:10]) + " (see /docs for the expected shape)"
    return JSONResponse(error_body("InvalidInput", detail), status_code=422)


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    names = {404: "NotFound", 405: "MethodNotAllowed", 413: "TooLarge", 400: "BadRequest"}
    detail = str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; see /docs for the API"
    return JSONResponse(error_body(names.get(exc.status_code, "HTTPError"), detail), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
    # A model built inside a route from already-parsed input: still the caller's input.
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())) or "input"
    return JSONResponse(error_body("InvalidInput", f"{where}: {first.get('msg', 'invalid')}"), status_code=422)


def _database_refused(request: Request, exc: DataError) -> JSONResponse:
    # The caller's value, not the server: PostgreSQL refuses NUL characters in text, and values past a column's size.
    reason = "a NUL character" if "NUL" in str(exc.orig) else "a value the database cannot store (too long, or out of range)"
    return JSONResponse(error_body("InvalidInput", f"this request carries {reason}; remove or shorten it and retry"), status_code=422)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("InternalError", "the server failed on this request; the error is in its log"), status_code=500)


HMA_PREFIXES = ("/h/", "/m/", "/c/")  # HMA-compatible routes (crossmatch.api.hma*): HMA's error shape


def _hma_shaped(handler):
    """On HMA routes the same errors answer as HMA does: ``{"message": ...}``, and 400 for malformed input."""

    def shaped(request: Request, exc: Exception) -> JSONResponse:
        response = handler(request, exc)
        if not request.url.path.startswith(HMA_PREFIXES):
            return response
        import json

        body = json.loads(response.body)
        status = 400 if response.status_code == 422 else response.status_code
        headers = {k: v for k, v in response.headers.items() if k.lower() in ("www-authenticate", "retry-after")}
        return JSONResponse({"message": body.get("detail", "")}, status_code=status, headers=headers)

    return shaped


def install_error_handlers(app: FastAPI) -> None:
    _document_validation_errors(app)
    for kind in {kind for kind, _ in STATUS} | {CrossmatchError}:
        app.add_exception_handler(kind, _hma_shaped(_domain_or_unexpected))
    app.add_exception_handler(RequestValidationError, _hma_shaped(_validation))
    app.add_exception_handler(ValidationError, _hma_shaped(_pydantic))
    app.add_exception_handler(StarletteHTTPException, _hma_shaped(_http))
    app.add_exception_handler(RecursionError, _hma_shaped(_too_deep))
    app.add_exception_handler(DataError, _hma_shaped(_database_refused))
    app.add_exception_handler(Exception, _hma_shaped(_unexpected))


def _too_deep(request: Request, exc: Exception) -> JSONResponse:
    # A body nested thousands of levels deep exhausts a recursive parser: the input's fault, not ours.
    log.warning("%s %s: input nested too deeply (%s)", request.method, request.url.path, exc)
    return JSONResponse(error_body("InvalidInput", "the request nests too deeply to parse; flatten it"), status_code=422)


def _document_validation_errors(app: FastAPI) -> None:
    """OpenAPI's 422 says what ``_validation`` really answers ({"error", "detail"}), not FastAPI's list shape."""
    generate = app.openapi

    def openapi() -> dict:
        fresh = app.openapi_schema is None
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if fresh and "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = {**ErrorOut.model_json_schema(), "title": "HTTPValidationError"}
            schemas.pop("ValidationError", None)
        return schema

    app.openapi = openapi


def _domain_or_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if any(isinstance(exc, kind) for kind, _ in STATUS):
        return _domain(request, exc)
    # Any other domain error is still the caller's to fix.
    return JSONResponse(error_body("InvalidInput", str(exc)), status_code=422)
