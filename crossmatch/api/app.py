"""The FastAPI app factory: one Context, services on app.state, one error handler, workers in the lifespan."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from crossmatch.actions.delivery import Deliverer
from crossmatch.actions.service import ActionService
from crossmatch.actions.worker import BackgroundLoop
from crossmatch.api.admission import Admission
from crossmatch.api import routes_actions, routes_admin, routes_banks, routes_health, routes_scan, routes_submissions
from crossmatch.api import routes_cases, routes_outlets
from crossmatch.api import hma, hma_config, hma_curation
from crossmatch.exchange.scheduler import exchange_loops
from crossmatch.web import admin_views as web_admin_views, outlet_views as web_outlet_views, views as web_views
from crossmatch.api.errors import install_error_handlers
from crossmatch.api.limits import BodyLimitMiddleware
from crossmatch.api.metrics import Metrics, MetricsMiddleware
from crossmatch.api.submissions import SubmissionService
from crossmatch.audit.service import AuditLog
from crossmatch.api.security import SecurityMiddleware
from crossmatch.auth.ratelimit import RateLimiter
from crossmatch.auth.sessions import WebSessions
from crossmatch.auth.throttle import SignInThrottle
from crossmatch.auth.tokens import TokenService
from crossmatch.auth.users import UserService
from crossmatch.outlets.service import OutletService
from crossmatch.review.service import ReviewService
from crossmatch.context import Context, open_context
from crossmatch.settings import Settings

API_VERSION = "1"


def session_secret(settings: Settings) -> str:
    """The configured key, else one generated once and kept (mode 600) in the data directory."""
    if settings.service.secret_key:
        return settings.service.secret_key
    path = Path(settings.home) / "session_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        tmp.replace(path)  # atomic: two servers starting together end with one key
    return path.read_text().strip()


def create_app(settings: Settings, context: Context | None = None) -> FastAPI:
    """The server for one process; ``service.role`` says which parts run in it.

    ``api`` serves lookups, the API and the review UI; ``worker`` runs the
    background loops (submissions, webhook deliveries, exchange syncs) and
    answers only health checks; ``all`` (one box) does both.  Many ``api``
    processes and one or more ``worker`` processes can share one PostgreSQL.
    """
    svc = settings.service
    ctx = context or open_context(settings, min_refresh_seconds=svc.index_refresh_s, serving=svc.role != "worker")
    owns_ctx = context is None
    run_loops = svc.background_workers and svc.role in ("all", "worker")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loops: list[BackgroundLoop] = []
        if run_loops:
            deliverer = Deliverer(ctx.sessions, svc)
            loops = [BackgroundLoop("delivery", lambda: _busy(deliverer.deliver_due()), app.state.actions.wakeup, svc.worker_poll_s)]
            if settings.scale.queue == "local":
                loops.append(BackgroundLoop("submissions", app.state.submissions.process_next, app.state.submissions.wakeup,
                                            svc.worker_poll_s))
            loops += exchange_loops(ctx, settings)
            for loop in loops:
                loop.start()  # pending deliveries and queued submissions resume here after a restart
        stream = _start_stream(app, settings, run_loops)  # scale.queue = "nats": JetStream carries submissions
        if stream is not None:
            loops.append(stream)
        try:
            yield
        finally:
            if app.state.submissions.publisher is not None:
                app.state.submissions.publisher.close()
            for loop in loops:
                loop.stop()
            if run_loops:
                deliverer.close()
            if owns_ctx:
                ctx.close()

    app = FastAPI(
        title="crossmatch",
        version=API_VERSION,
        description="Hash, match and act on known violent-extremist content. Authenticate with `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    state = app.state
    state.settings = settings
    state.ctx = ctx
    state.admission = Admission(settings.pool_processes * svc.max_in_flight_per_process, svc.admission_wait_s, svc.retry_after_s)
    state.audit = AuditLog(ctx.sessions)
    state.actions = ActionService(ctx.sessions, settings, ctx.banks)
    sec = settings.security
    state.users = UserService(ctx.sessions, sec.password_hashing_concurrency, sec.password_hashing_wait_s)
    state.web_sessions = WebSessions(ctx.sessions, svc.session_max_age_s)
    state.signin_throttle = SignInThrottle(ctx.sessions, sec.signin_failures_per_account_address, sec.signin_failures_per_account,
                                           sec.signin_failures_per_address, sec.signin_window_s)
    state.tokens = TokenService(ctx.sessions)
    state.rate_limiter = RateLimiter(svc.rate_per_second, svc.rate_burst)
    state.metrics = Metrics()
    state.review = ReviewService(ctx.sessions, ctx.banks, state.audit, state.actions, settings)
    # No engine lock: matching reads immutable index versions, hashing runs in the engine's pool.
    state.outlets = OutletService(ctx.sessions, settings, state.actions, state.audit, ctx.banks, ctx.registry)
    state.submissions = SubmissionService(ctx.sessions, settings, ctx.engine, state.actions, state.review, state.outlets)

    # Inside the session middleware: it reads the decoded session (see api/security.py).
    app.add_middleware(SecurityMiddleware, web_sessions=state.web_sessions, https_only=svc.https_only_cookies)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="crossmatch_session",
        max_age=svc.session_max_age_s,
        same_site="lax",  # cross-site POSTs carry no session cookie (CSRF)
        https_only=svc.https_only_cookies,
    )
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    # Outermost: bodies are capped before any other middleware, parser or auth dependency sees them.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.limits.max_body_bytes, max_upload_bytes=svc.max_upload_bytes)
    install_error_handlers(app)
    app.add_exception_handler(hma.HmaError, hma.hma_error_response)  # HMA routes answer {"message"} as HMA does
    app.include_router(routes_health.router)
    if svc.role == "worker":
        return app  # a worker answers health checks only
    for module in (routes_scan, routes_submissions, routes_banks, routes_actions, routes_admin):
        app.include_router(module.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_outlets.router)
    app.include_router(hma.router)
    app.include_router(hma_curation.router)
    app.include_router(hma_config.router)
    app.include_router(web_views.router)
    app.include_router(web_admin_views.router)
    app.include_router(web_outlet_views.router)
    return app


def _start_stream(app: FastAPI, settings: Settings, run_loops: bool):
    """With scale.queue = "nats": api processes publish submissions, worker processes consume them."""
    if settings.scale.queue != "nats":
        return None
    from crossmatch.scale.stream import Publisher, StreamWorker

    if settings.service.role in ("all", "api"):
        app.state.submissions.publisher = Publisher(settings.scale)
    if not run_loops:
        return None
    worker = StreamWorker(settings.scale, app.state.submissions)
    worker.start()
    worker.ready.wait(30)
    if worker.error is not None:
        raise worker.error
    return worker


def _busy(report) -> bool:
    return report.delivered + report.failed + report.dead > 0
