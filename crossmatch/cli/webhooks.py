"""``crossmatch webhook create|list|delete``: where actions are sent (the same ActionService as /api/v1/webhooks)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, opened, out_console, plain, table

app = typer.Typer(help="Webhooks: signed HTTP POSTs that tell your platform about matches and decisions.", no_args_is_help=True)
EVENTS_HELP = ("Event to send (repeatable): match.auto (a match acted on by policy), match.review (a case opened), "
               "decision (a reviewer decided), submission.scanned (every scanned submission), signal.quarantined (a bank signal held for a flood). Default: match.auto and decision.")


def _service(cx: Any) -> Any:
    from crossmatch.actions.service import ActionService

    return ActionService(cx.sessions, cx.settings, cx.banks)


def _audit(cx: Any, action: str, target: str, data: dict) -> None:
    from crossmatch.audit.service import AuditLog
    from crossmatch.cli.serve import cli_actor

    AuditLog(cx.sessions).record(cli_actor(), action, target, data)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="A name for the receiver, e.g. platform."),
    url: str = typer.Option(..., "--url", metavar="URL", help="Where to POST, e.g. https://platform.internal/crossmatch."),
    event: list[str] = typer.Option([], "--event", metavar="EVENT", help=EVENTS_HELP),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="Read the signing secret from standard input (default: a random one, printed once)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a webhook; its signing secret is printed once (receivers verify X-Crossmatch-Signature with it)."""
    secret = sys.stdin.readline().strip() if secret_stdin else None
    with opened(ctx, as_json) as cx:
        hook, secret = _service(cx).create_webhook(name, url, event or None, secret)
        _audit(cx, "webhook.create", name, {"url": url, "events": hook["events"]})
    if as_json:
        emit_json({**hook, "secret": secret})
        return
    err_console.print(f"webhook {hook['id']} ({name}) sends {', '.join(hook['events'])} to {hook['url']}; "
                      "its signing secret, shown only now:", highlight=False)
    print(secret)


@app.command("list")
def list_webhooks(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List webhooks (never their secrets)."""
    with opened(ctx, as_json) as cx:
        hooks = _service(cx).list_webhooks()
    if as_json:
        for hook in hooks:
            emit_json(hook)
        return
    if not hooks:
        out_console.print("no webhooks yet: `crossmatch webhook create NAME --url URL`")
        return
    shown = table("id", "name", "url", "events", "enabled")
    for hook in hooks:
        shown.add_row(str(hook["id"]), hook["name"], hook["url"], plain(hook["events"]), plain(hook["enabled"]))
    out_console.print(shown)


@app.command("delete")
def delete(
    ctx: typer.Context,
    webhook: str = typer.Argument(..., metavar="ID|NAME", help="The webhook's id or name (see `crossmatch webhook list`)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a webhook; its undelivered actions become dead letters (kept for the record)."""
    from crossmatch.errors import NotFound

    with opened(ctx, as_json) as cx:
        service = _service(cx)
        found = [h for h in service.list_webhooks() if str(h["id"]) == webhook or h["name"] == webhook]
        if not found:
            raise NotFound(f"no webhook with id or name {webhook!r}; see `crossmatch webhook list`")
        service.delete_webhook(found[0]["id"])
        _audit(cx, "webhook.delete", str(found[0]["id"]), {"name": found[0]["name"]})
    if as_json:
        emit_json({"deleted": found[0]["id"], "name": found[0]["name"]})
    else:
        out_console.print(f"deleted webhook {found[0]['id']} ({found[0]['name']})", highlight=False)
