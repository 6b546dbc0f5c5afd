"""Outlets pages of the review UI: detected outlets, one outlet's accounts, weekly timeline and graph.

Read-only and thin over OutletService (the same calls the /api/v1/outlets routes make).
Account ids stay pseudonymised; raw handles (when the deployment keeps them) only for analysts.
The graph's data rides in a JSON data block (not a script: the CSP allows no inline code) and
/static/outlets.js draws it with the vendored Cytoscape.js.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from crossmatch.api.schemas import RowId
from crossmatch.auth.roles import HANDLES, OUTLETS_READ
from crossmatch.web.routing import PageRoute
from crossmatch.web.security import need_user, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _sees_handles(user: dict[str, str]) -> bool:
    return user["role"] in HANDLES or user["role"] == "admin"  # as the API's routes_outlets does


@router.get("/outlets")
def outlets(request: Request) -> Response:
    need_user(request, *OUTLETS_READ)
    return render(request, "outlets.html", outlets=request.app.state.outlets.outlets())


@router.get("/outlets/{outlet_id}")
def outlet(request: Request, outlet_id: RowId) -> Response:
    user = need_user(request, *OUTLETS_READ)
    service = request.app.state.outlets
    found = service.describe(outlet_id)
    handles = _sees_handles(user)
    accounts = [service.account(a, with_handles=handles) for a in found["accounts"]]
    timeline = service.timeline(outlet_id)
    return render(request, "outlet.html", outlet=found, accounts=accounts, show_handles=handles,
                  weeks=weekly_bars(timeline), graph_json=json_block(graph_data(service, set(found["accounts"]))))


def json_block(value: Any) -> Markup:
    # Safe inside <script type="application/json">: no "</script>" or "<!--" can close it early.
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def weekly_bars(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of (week, total, [(language, posts)]) and the busiest week, for <meter> bars (no inline styles)."""
    weeks: dict[str, dict[str, int]] = {}
    for row in timeline:
        weeks.setdefault(row["week"], {})[row["language"]] = row["posts"]
    busiest = max((sum(v.values()) for v in weeks.values()), default=1) or 1
    return [{"week": w, "total": sum(langs.values()), "busiest": busiest, "languages": sorted(langs.items())}
            for w, langs in sorted(weeks.items())]


def graph_data(service: Any, members: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The outlet's part of the account graph (pseudonymised ids) as Cytoscape elements."""
    from crossmatch.outlets.exports import account_graph

    graph = account_graph(service).subgraph(members)
    nodes = [{"data": {"id": a, "platform": d.get("platform", "unknown"), "matches": d.get("matches", 0)}}
             for a, d in sorted(graph.nodes(data=True))]
    edges = [{"data": {"id": f"{a}~{b}", "source": a, "target": b, "weight": round(d.get("weight", 0.0), 3)}}
             for a, b, d in sorted(graph.edges(data=True))]
    return {"nodes": nodes, "edges": edges}
