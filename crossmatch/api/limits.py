"""A request-body cap for every route, enforced as the bytes arrive.

Starlette reads a whole body into memory when a route asks for it, and FastAPI parses a
JSON body before the route's dependencies (authentication) run; neither has a size limit,
and a chunked body announces no length.  This ASGI middleware sits outside everything:
a declared ``Content-Length`` over the cap is answered 413 before a byte is read, and a
body that grows past it while streaming (chunked) is cut off at the cap with 413.  So no
route, authenticated or not, ever buffers more than its cap.

Routes that take uploads (``UPLOAD_ROUTES``) get ``service.max_upload_bytes`` plus room
for the multipart envelope; every other route gets ``limits.max_body_bytes``.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Routes that accept files or long texts; everything else takes small JSON or forms.
UPLOAD_ROUTES = re.compile(r"^/(?:api/v1/(?:hash|lookup|submissions|banks/[^/]+/import)|h/hash|m/lookup|c/bank/[^/]+/content)/?$")
MULTIPART_ROOM = 1024 * 1024  # multipart headers and the other form fields around the file


class BodyTooLarge(BaseException):
    """Raised from ``receive`` past the cap.  A BaseException on purpose: routes that turn any
    ``Exception`` from a parser into a 422 must not swallow it; the middleware answers 413."""


class BodyLimitMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes + MULTIPART_ROOM

    def limit_for(self, path: str) -> int:
        return self.max_upload_bytes if UPLOAD_ROUTES.match(path) else self.max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)  # nothing read, nothing parsed, no auth work
            return
        received = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise  # a response is half sent: the server closes the connection
            await _too_large(send, limit)
        except BaseExceptionGroup as group:  # raised inside a task group (anyio), e.g. by a streaming route
            matched, rest = group.split(BodyTooLarge)
            if matched is None or rest is not None or started:
                raise
            await _too_large(send, limit)


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) refuses a malformed length itself
    return None


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"error": "PayloadTooLarge",
                       "detail": f"the request body is over the {limit}-byte limit for this route; "
                                 "send a smaller file or text (uploads: service.max_upload_bytes)"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
