"""Prometheus metrics with a registry per app (no global registry), and the ASGI middleware feeding them."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("crossmatch_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("crossmatch_http_request_seconds", "HTTP request latency", ["route"], buckets=BUCKETS,
                                 registry=self.registry)
        self.actions = Gauge("crossmatch_actions", "Actions by status", ["status"], registry=self.registry)
        self.submissions = Gauge("crossmatch_submissions", "Submissions by status", ["status"], registry=self.registry)
        self.index_size = Gauge("crossmatch_index_signals", "Signals in each loaded index", ["signal_type"], registry=self.registry)
        self.index_layers = Gauge("crossmatch_index_layers", "Change layers above each index's base (compacted in the background)",
                                  ["signal_type"], registry=self.registry)
        self.index_seq = Gauge("crossmatch_index_change_seq", "Change-log number each index has applied", ["signal_type"],
                               registry=self.registry)
        self.in_flight = Gauge("crossmatch_requests_in_flight", "Engine requests admitted now", registry=self.registry)
        self.shed = Gauge("crossmatch_requests_shed", "Engine requests refused with 503 since start", registry=self.registry)

    def refresh(self, state: Any) -> None:
        """Gauges read from the store at scrape time."""
        from crossmatch.api.submissions import Submission

        for status, count in state.actions.counts().items():
            self.actions.labels(status).set(count)
        with state.ctx.sessions() as session:
            rows = dict(session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all())
        for status in ("queued", "scanning", "done", "failed"):
            self.submissions.labels(status).set(rows.get(status, 0))
        for name, size in state.ctx.indexes.sizes().items():
            self.index_size.labels(name).set(size)
        for name, info in state.ctx.indexes.layers().items():
            self.index_layers.labels(name).set(info["layers"])
            self.index_seq.labels(name).set(info["seq"])
        admission = getattr(state, "admission", None)
        if admission is not None:
            self.in_flight.set(admission.in_use)
            self.shed.set(admission.shed)


class MetricsMiddleware:
    """Counts requests and latency per route template (never per raw path, to bound label cardinality)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status["code"])).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
