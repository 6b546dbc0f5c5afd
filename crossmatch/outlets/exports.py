"""Exports of the account graph: GEXF / GraphML for Gephi (networkx), CSV, STIX 2.1 (stix2).

Pseudonymised ids stay pseudonymised unless ``handles`` (an admin's choice, checked
by the caller): then accounts whose handle the deployment kept are named by it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

import networkx as nx

MEDIA_TYPES = {"gexf": "application/gexf+xml", "graphml": "application/graphml+xml", "csv": "text/csv",
               "stix": "application/stix+json;version=2.1"}
CSV_FIELDS = ("account", "platform", "outlet_id", "posts", "matched_posts", "items", "translations", "excerpts",
              "edited", "languages", "first_seen", "last_seen", "flagged_at", "flag_reason")


def account_graph(service: Any, handles: bool = False) -> nx.Graph:
    """Flagged accounts with plain attributes (what GEXF and GraphML can carry)."""
    tracker = service.tracker()
    names = service._handles(list(tracker.graph.g.nodes)) if handles else {}
    name = lambda a: names.get(a, a)  # noqa: E731
    out = nx.Graph()
    for account in tracker.graph.g.nodes:
        r = tracker.accounts[account]
        out.add_node(name(account), platform=r.platform or "unknown", outlet=tracker.communities.of_account.get(account, 0),
                     matches=len(r.items), posts=r.posts, translations=r.how["translation"],
                     languages=",".join(sorted(r.languages)))
    for a, b, data in tracker.graph.g.edges(data=True):
        out.add_edge(name(a), name(b), weight=float(data["weight"]),
                     **{k: float(v) for k, v in data.items() if k not in ("weight",)})
    return out


def export_graph(service: Any, fmt: str, handles: bool = False) -> bytes:
    if fmt not in MEDIA_TYPES:
        from crossmatch.errors import InvalidInput

        raise InvalidInput(f"export format {fmt!r} is not known; choose one of {', '.join(MEDIA_TYPES)}")
    if fmt == "gexf":
        return "\n".join(nx.generate_gexf(account_graph(service, handles))).encode()
    if fmt == "graphml":
        return "\n".join(nx.generate_graphml(account_graph(service, handles))).encode()
    if fmt == "csv":
        return accounts_csv(service, handles).encode()
    return json.dumps(stix_bundle(service, handles), indent=1).encode()


def accounts_csv(service: Any, handles: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in service.accounts(flagged_only=True, limit=10_000, with_handles=handles):
        row = {**record, "items": len(record["items"]),
               "languages": ";".join(f"{k}:{v}" for k, v in sorted(record["languages"].items()))}
        if handles and record.get("handle"):
            row["account"] = record["handle"]
        writer.writerow(row)
    return buffer.getvalue()


def stix_bundle(service: Any, handles: bool = False) -> dict[str, Any]:
    """Each outlet a threat-actor; its accounts identities (attributed-to); the unbanked material
    its accounts co-posted (PDQ hashes) indicators that indicate it."""
    import stix2

    tracker = service.tracker()
    names = service._handles(list(tracker.graph.g.nodes)) if handles else {}
    objects: list[Any] = []
    for outlet in service.outlets():
        actor = stix2.ThreatActor(name=f"crossmatch outlet {outlet['outlet_id']}", threat_actor_types=["unknown"],
                                  first_seen=datetime.fromisoformat(outlet["first_seen"]),
                                  last_seen=datetime.fromisoformat(outlet["last_seen"]),
                                  description=f"{len(outlet['accounts'])} accounts on {', '.join(sorted(outlet['platforms']))}; "
                                              f"languages {', '.join(sorted(outlet['languages'])) or 'unknown'}")
        objects.append(actor)
        members = set(outlet["accounts"])
        for account in outlet["accounts"]:
            platform = tracker.accounts[account].platform or "unknown"
            who = stix2.Identity(name=f"{platform}:{names.get(account, account)}", identity_class="individual")
            objects += [who, stix2.Relationship(actor, "attributed-to", who)]
        for cluster in tracker.clusters.by_id.values():
            if cluster.signal_type != "pdq" or len(cluster.accounts & members) < 2:
                continue
            indicator = stix2.Indicator(name=f"PDQ of material co-posted by outlet {outlet['outlet_id']}",
                                        pattern=f"[file:hashes.'PDQ' = '{cluster.value}']", pattern_type="stix",
                                        valid_from=datetime.fromisoformat(outlet["first_seen"]))
            objects += [indicator, stix2.Relationship(indicator, "indicates", actor)]
    return {"objects": [], **json.loads(stix2.Bundle(objects=objects).serialize())}
