"""``crossmatch purge``: enforce the media retention limit now (the server also does it on a timer)."""

from __future__ import annotations

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, opened, out_console


def purge_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Delete kept media (review previews, bank-item previews) whose retention has expired."""
    from crossmatch.review.media import purge_expired  # review extra; imported only when used
    from crossmatch.review.models import utcnow

    with opened(ctx, as_json) as cx:
        removed = purge_expired(cx.sessions, cx.settings.home, utcnow())
        if as_json:
            emit_json({"purged": removed})
        else:
            out_console.print(f"purged {removed} expired media file(s)")
