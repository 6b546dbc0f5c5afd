"""``crossmatch serve`` and the service admin commands: token, user, actions, audit.

Server-only libraries (uvicorn, FastAPI, argon2) are imported inside the
commands, so the rest of the CLI works without the server extras.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table

from crossmatch.cli.output import JSON_OPTION, emit_json, err_console, out_console, progress_bar, user_errors
from crossmatch.errors import InvalidInput

if TYPE_CHECKING:
    from crossmatch.settings import Settings

SETTINGS_ENV = "CROSSMATCH_SERVE_SETTINGS"
token_app = typer.Typer(help="API tokens (shown once, stored as a hash).", no_args_is_help=True)
user_app = typer.Typer(help="Web users for the review UI.", no_args_is_help=True)
actions_app = typer.Typer(help="Actions: webhook deliveries, dead letters.", no_args_is_help=True)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def app_factory():
    """Uvicorn factory for server processes: the parent's loaded settings, passed through the environment."""
    from crossmatch.api.app import create_app
    from crossmatch.settings import Settings

    return create_app(Settings.model_validate_json(os.environ[SETTINGS_ENV]))


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default loopback only)."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="Server processes (they share the database; each keeps its own indices)."),
    role: Optional[str] = typer.Option(
        None, "--role", help="api: lookups, API and review UI; worker: submissions, webhook deliveries and exchange syncs "
        "(answers health checks only); all: both, for one box. Default: service.role (all)."),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the HTTP API and review UI, the background workers, or both (--role)."""
    import uvicorn

    from crossmatch.context import open_context

    with user_errors(False):
        settings = ctx.obj
        if role is not None:
            if role not in ("all", "api", "worker"):
                raise InvalidInput(f"--role must be api, worker or all, not {role!r}")
            settings = settings.model_copy(update={"service": settings.service.model_copy(update={"role": role})})
        with open_context(settings):
            pass  # migrate once here, before worker processes start racing to do it
    # Worker processes get exactly these settings (already loaded once, by Settings.load).
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    what = {"api": "API and review UI", "worker": "background worker (health checks only)", "all": "API, review UI and workers"}
    err_console.print(f"crossmatch {what[settings.service.role]} on http://{host}:{port} (API docs at /docs), data in {settings.home}")
    uvicorn.run("crossmatch.cli.serve:app_factory", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=10,
                # Workers import numpy, faiss and friends and may load big indices: the 5 s default kills them.
                timeout_worker_healthcheck=120)


# -- tokens ----------------------------------------------------------------------
@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="hasher, matcher, curator, reviewer or admin."),
    name: Optional[str] = typer.Option(None, "--name", help="Who or what uses it (e.g. the platform's upload service)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an API token; it is printed once and only its hash is stored."""
    from crossmatch.audit.service import AuditLog
    from crossmatch.auth.tokens import TokenService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        token, info = TokenService(cx.sessions).create(role, name, created_by=cli_actor())
        AuditLog(cx.sessions).record(cli_actor(), "token.create", info.name, {"id": info.id, "role": info.role})
    if as_json:
        emit_json({**info.to_json(), "token": token})
    else:
        err_console.print(f"token {info.id} ({info.name}, role {info.role}); store it now, it is not shown again:")
        print(token)


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List tokens (never their secrets)."""
    from crossmatch.auth.tokens import TokenService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        tokens = TokenService(cx.sessions).list()
    if as_json:
        for t in tokens:
            emit_json(t.to_json())
        return
    table = Table("id", "name", "role", "prefix", "created", "revoked")
    for t in tokens:
        table.add_row(str(t.id), t.name, t.role, t.prefix + "…", t.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if t.revoked else "")
    out_console.print(table)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int, as_json: bool = JSON_OPTION) -> None:
    """Revoke a token by id (servers stop accepting it within seconds)."""
    from crossmatch.audit.service import AuditLog
    from crossmatch.auth.tokens import TokenService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        info = TokenService(cx.sessions).revoke(token_id)
        AuditLog(cx.sessions).record(cli_actor(), "token.revoke", info.name, {"id": token_id})
    emit_json(info.to_json()) if as_json else err_console.print(f"token {token_id} ({info.name}) revoked")


# -- users -------------------------------------------------------------------------
@user_app.command("create")
def user_create(
    ctx: typer.Context,
    username: str,
    role: str = typer.Option("reviewer", "--role"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a web user (argon2-hashed password)."""
    from crossmatch.audit.service import AuditLog
    from crossmatch.auth.users import UserService
    from crossmatch.context import open_context

    with user_errors(as_json):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        if not password:
            raise InvalidInput("no password given; pipe one into --password-stdin or type it at the prompt")
        with open_context(ctx.obj) as cx:
            info = UserService(cx.sessions).create(username, password, role)
            AuditLog(cx.sessions).record(cli_actor(), "user.create", username, {"role": role})
    emit_json(info.to_json()) if as_json else err_console.print(f"user {username!r} created with role {role}")


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    from crossmatch.auth.users import UserService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        users = UserService(cx.sessions).list()
    if as_json:
        for u in users:
            emit_json(u.to_json())
        return
    table = Table("username", "role", "enabled", "created")
    for u in users:
        table.add_row(u.username, u.role, "yes" if u.enabled else "no", u.created_at.strftime("%Y-%m-%d %H:%M"))
    out_console.print(table)


@user_app.command("disable")
def user_disable(ctx: typer.Context, username: str, as_json: bool = JSON_OPTION) -> None:
    from crossmatch.audit.service import AuditLog
    from crossmatch.auth.users import UserService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        info = UserService(cx.sessions).disable(username)
        AuditLog(cx.sessions).record(cli_actor(), "user.disable", username, {})
    emit_json(info.to_json()) if as_json else err_console.print(f"user {username!r} disabled")


# -- actions ------------------------------------------------------------------------
@actions_app.command("deliver")
def actions_deliver(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Deliver every due pending action once (for cron, or when no server runs)."""
    from crossmatch.actions.delivery import Deliverer, DeliveryReport
    from crossmatch.actions.service import ActionService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        pending = ActionService(cx.sessions, cx.settings, cx.banks).counts()["pending"]
        total = DeliveryReport()
        deliverer = Deliverer(cx.sessions, cx.settings.service)
        try:
            with progress_bar("delivering", total=pending, enabled=not as_json) as advance:
                while True:
                    report = deliverer.deliver_due()
                    done = report.delivered + report.failed + report.dead
                    if done == 0:
                        break
                    for key in ("delivered", "failed", "dead"):
                        setattr(total, key, getattr(total, key) + getattr(report, key))
                    advance(done)
                    if report.delivered + report.dead == 0:
                        break  # only failures left: they wait for their backoff
        finally:
            deliverer.close()
    emit_json(total.to_json()) if as_json else err_console.print(
        f"delivered {total.delivered}, failed (will retry) {total.failed}, dead letters {total.dead}")


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="pending, delivered or dead."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List actions, newest first."""
    from crossmatch.actions.service import ActionService
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        rows = ActionService(cx.sessions, cx.settings, cx.banks).list_actions(status, limit)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    table = Table("id", "event", "webhook", "status", "attempts", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["event"], str(r["webhook_id"]), r["status"], str(r["attempts"]), (r["last_error"] or "")[:60])
    out_console.print(table)


@actions_app.command("retry")
def actions_retry(
    ctx: typer.Context,
    action_id: Optional[int] = typer.Argument(None, help="A dead letter's id; omit with --all-dead."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Retry every dead letter."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move dead letters back to pending."""
    from crossmatch.actions.service import ActionService
    from crossmatch.audit.service import AuditLog
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        service = ActionService(cx.sessions, cx.settings, cx.banks)
        if all_dead:
            count = service.retry_dead()
        elif action_id is not None:
            service.retry(action_id)
            count = 1
        else:
            raise InvalidInput("give an action id or --all-dead; see `crossmatch actions list --status dead`")
        AuditLog(cx.sessions).record(cli_actor(), "action.retry", str(action_id or "all-dead"), {"count": count})
    emit_json({"retried": count}) if as_json else err_console.print(f"{count} action(s) back to pending")


def audit(
    ctx: typer.Context,
    actor: Optional[str] = typer.Option(None, "--actor"),
    action: Optional[str] = typer.Option(None, "--action", help="Exact action, or a prefix ending in '.' (e.g. bank.)."),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the audit trail, newest first."""
    from crossmatch.audit.service import AuditLog
    from crossmatch.context import open_context

    with user_errors(as_json), open_context(ctx.obj) as cx:
        records = AuditLog(cx.sessions).query(actor, action, None, limit)
    if as_json:
        for r in records:
            emit_json(r.to_json())
        return
    table = Table("at", "actor", "action", "target")
    for r in records:
        table.add_row(r.at.strftime("%Y-%m-%d %H:%M:%S"), r.actor, r.action, r.target)
    out_console.print(table)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("audit")(audit)
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")
    app.add_typer(actions_app, name="actions")
