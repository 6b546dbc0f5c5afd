"""Outlets: communities of the account graph, with ids that stay put as they change.

Incremental: only the parts of the graph whose edges changed since the last
pass (the evidence-connected components of the dirty nodes, plus the outlets
they touch) are clustered again, with networkx's Louvain (seeded, so a rerun
gives the same outlets).  Each new community takes the id of the old outlet it
overlaps most; what is left over is recorded as a merge, a split, a new outlet
or a dissolved one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from crossmatch.outlets.graph import AccountGraph


@dataclass
class Outlet:
    id: int
    members: set[str]
    detected_at: float
    updated_at: float


@dataclass
class OutletChange:
    kind: str  # detected | grew | shrank | merged | split | dissolved
    outlet_id: int
    members: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    others: list[int] = field(default_factory=list)  # merged from / split from

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "outlet_id": self.outlet_id, "members": self.members, "added": self.added,
                "removed": self.removed, "others": self.others}


class Communities:
    def __init__(self, resolution: float, min_accounts: int, min_strength: float, seed: int = 0,
                 min_features: int = 1, min_purity: float = 0.0) -> None:
        self.resolution = resolution
        self.min_accounts = min_accounts
        self.min_strength = min_strength
        self.min_features = min_features
        self.min_purity = min_purity
        self.seed = seed
        self.outlets: dict[int, Outlet] = {}
        self.of_account: dict[str, int] = {}
        self._next_id = 1

    def _scope(self, graph: AccountGraph) -> set[str]:
        """Dirty nodes, the outlets they belong to, and everything evidence-connected to them."""
        start = set(graph.dirty)
        for node in list(start):
            if node in self.of_account:
                start |= self.outlets[self.of_account[node]].members
        seen, queue = set(start), deque(start)
        adj = graph.ev.adj
        while queue:
            node = queue.popleft()
            for other in adj.get(node, ()):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
        return seen

    def _cluster(self, sub: nx.Graph, graph: AccountGraph) -> list[set[str]]:
        found: list[set[str]] = []
        for component in nx.connected_components(sub):
            if len(component) < self.min_accounts:
                continue
            part = sub.subgraph(component).copy()  # Louvain on a view pays a filter on every lookup
            for community in nx.community.louvain_communities(part, weight="weight", resolution=self.resolution, seed=self.seed):
                kept = self._strong_core(sub, graph, set(community))
                if len(kept) >= self.min_accounts:
                    found.append(kept)
        return found

    def _strong_core(self, sub: nx.Graph, graph: AccountGraph, members: set[str]) -> set[str]:
        """Drop members whose evidence with the rest is below ``min_strength`` or rests on fewer than
        ``min_features`` distinct things (one missed copy of a known item that a researcher also
        posted is not membership), or whose co-posted material is mostly posted by unflagged accounts
        too (``min_purity``: a news account sharing wire photos), until none is."""
        adj = sub.adj
        while True:
            weak = {a for a in members
                    if sum(d["evidence"] for b, d in adj[a].items() if b in members) < self.min_strength
                    or graph.shared_evidence(a, members) < self.min_features
                    or graph.evidence_purity(a) < self.min_purity}
            if not weak:
                return members
            members = members - weak

    def update(self, graph: AccountGraph, now: float) -> list[OutletChange]:
        if not graph.dirty:
            return []
        scope = self._scope(graph)
        graph.dirty.clear()
        new = sorted(self._cluster(graph.evidence_graph(scope), graph), key=lambda c: (-len(c), min(c)))
        old_ids = sorted({self.of_account[a] for a in scope if a in self.of_account})
        pairs = sorted(((len(c & self.outlets[o].members), -i, o) for i, c in enumerate(new) for o in old_ids
                        if c & self.outlets[o].members), reverse=True)
        owner: dict[int, int] = {}  # new community index -> old outlet id
        taken: set[int] = set()
        for _, neg_i, o in pairs:
            if -neg_i not in owner and o not in taken:
                owner[-neg_i], taken = o, taken | {o}
        changes: list[OutletChange] = []
        before = {o: set(self.outlets[o].members) for o in old_ids}
        for o in old_ids:
            for a in before[o]:
                self.of_account.pop(a, None)
        for i, members in enumerate(new):
            overlapping = sorted(o for o in old_ids if members & before[o])
            if i in owner:
                outlet = self.outlets[owner[i]]
                added, removed = sorted(members - before[outlet.id]), sorted(before[outlet.id] - members)
                outlet.members, outlet.updated_at = set(members), now
                absorbed = [o for o in overlapping if o not in taken]
                if absorbed:
                    changes.append(OutletChange("merged", outlet.id, sorted(members), added, removed, absorbed))
                elif added:
                    changes.append(OutletChange("grew", outlet.id, sorted(members), added, removed))
                elif removed:
                    changes.append(OutletChange("shrank", outlet.id, sorted(members), [], removed))
            else:
                outlet = Outlet(self._next_id, set(members), now, now)
                self._next_id += 1
                self.outlets[outlet.id] = outlet
                kind = "split" if overlapping else "detected"
                changes.append(OutletChange(kind, outlet.id, sorted(members), sorted(members), [], overlapping))
            for a in members:
                self.of_account[a] = outlet.id
        claimed_or_absorbed = set(taken) | {o for c in changes if c.kind == "merged" for o in c.others}
        for o in old_ids:
            if o not in taken:
                del self.outlets[o]
                if o not in claimed_or_absorbed:
                    changes.append(OutletChange("dissolved", o, [], [], sorted(before[o])))
        return changes
