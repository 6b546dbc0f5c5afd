"""Routing for HTML pages: domain errors become pages, not JSON.

The API's one error handler answers JSON; a person in a browser should instead
be sent to sign in, or see what went wrong and what to do next.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from crossmatch.errors import Conflict, InvalidInput, NotFound
from crossmatch.web.security import WEB_DIR, BadCsrf, NotAllowed, SignInRequired, render

STATIC = {"app.css": "text/css", "app.js": "text/javascript", "csrf.js": "text/javascript",
          "outlets.css": "text/css", "outlets.js": "text/javascript",
          "vendor/cytoscape.min.js": "text/javascript"}  # vendored from npm with its licence (vendor/*.LICENSE)
ERROR_STATUS = ((NotFound, 404), (Conflict, 409), (InvalidInput, 422), (NotAllowed, 403), (BadCsrf, 403))


class PageRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
            except tuple(cls for cls, _ in ERROR_STATUS) as exc:
                status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
                try:
                    return render(request, "error.html", status_code=status, message=str(exc), status=status)
                except Exception:  # the error page itself must never hide the error
                    return HTMLResponse(f"<p>{escape(str(exc))}</p>", status_code=status)

        return page


def static_file(name: str) -> Response:
    """The UI's own CSS and JS (no CDN: nothing is fetched from elsewhere)."""
    if name not in STATIC:
        return Response("not found", status_code=404)
    return FileResponse(Path(WEB_DIR / "static" / name), media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})


def safe_next(target: str | None) -> str:
    # Only local paths: never redirect a signed-in reviewer to another site.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target
