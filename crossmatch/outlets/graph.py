"""The account graph: flagged accounts, linked by what they share.

A feature is one thing accounts can share: a bank item, an unbanked
near-duplicate cluster, a link, a link's domain, an outlet mark.  A feature held
by n accounts, k of them flagged, adds ``weight(kind) / (n - 1) * k / n`` to each
pair of its flagged holders: resource allocation (a viral item or a news site says
little about who belongs together) times purity (a wire photo that many unflagged
news accounts post too says little about the two flagged ones that also did), and
nothing once more than ``common`` accounts hold it.

Only shared unbanked material and outlet marks are *evidence* that accounts belong
together; shared bank items, links and domains add weight (they shape the
communities) but never make an outlet on their own: researchers at one institute
share known items and their institute's domain, and are no outlet.

Holders are counted over every account seen with the feature, flagged or not, so
popularity is the platform's, not the watch list's.  Each change of a feature's
holders re-weights only that feature's pairs, so the update cost per post is
bounded by ``common``² whatever the graph's size.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

Feature = tuple[str, object]  # (kind, id): ("item", 12), ("cluster", 3), ("link", url), ("domain", d), ("mark", 7)
EVIDENCE = ("cluster", "mark")  # what only an outlet shares: its own new material, its mark


class AccountGraph:
    def __init__(self, weights: dict[str, float], common: int, min_flagged_share: float = 0.0) -> None:
        self.weights = weights
        self.common = common
        self.min_flagged_share = min_flagged_share
        self.g = nx.Graph()
        self.ev = nx.Graph()  # the evidence edges only, kept alongside: outlets are found on these
        self.holders: dict[Feature, set[str]] = defaultdict(set)
        self._applied: dict[Feature, float] = {}  # per-pair weight each feature currently contributes
        self.features: dict[str, set[Feature]] = defaultdict(set)  # flagged account -> its features
        self.dirty: set[str] = set()  # nodes whose edges changed since the last re-cluster

    def hold(self, account: str, feature: Feature) -> None:
        """``account`` was seen with ``feature`` (any account, flagged or not)."""
        members = self.holders[feature]
        if account in members:
            return
        members.add(account)
        if account in self.g:
            self.features[account].add(feature)
            self._reweigh(feature, joined=account)
        else:
            self._reweigh(feature)

    def flag(self, account: str, features: set[Feature]) -> None:
        """Make ``account`` a node, with every feature it was seen with so far."""
        if account in self.g:
            return
        self.g.add_node(account)
        self.ev.add_node(account)
        self.dirty.add(account)
        for feature in features:
            self.holders[feature].add(account)
            self.features[account].add(feature)
            self._reweigh(feature, joined=account)

    def _per_pair(self, feature: Feature) -> float:
        holders = self.holders[feature]
        n = len(holders)
        if n < 2 or n > self.common:
            return 0.0
        k = sum(1 for a in holders if a in self.g)
        if k / n < self.min_flagged_share:
            return 0.0
        return self.weights.get(feature[0], 0.0) / (n - 1) * k / n

    def _reweigh(self, feature: Feature, joined: str | None = None) -> None:
        old, new = self._applied.get(feature, 0.0), self._per_pair(feature)
        nodes = [a for a in self.holders[feature] if a in self.g]
        if len(nodes) < 2 or (old == new and joined is None):
            self._applied[feature] = new
            return
        kind = feature[0]
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                # A pair that includes the account that just joined had nothing from this feature yet.
                delta = new - (0.0 if joined in (a, b) else old)
                if delta:
                    self._add(a, b, kind, delta)
        self._applied[feature] = new

    def _add(self, a: str, b: str, kind: str, delta: float) -> None:
        if self.g.has_edge(a, b):
            data = self.g[a][b]
        else:
            self.g.add_edge(a, b, weight=0.0, evidence=0.0)
            data = self.g[a][b]
        data[kind] = data.get(kind, 0.0) + delta
        data["weight"] = max(0.0, data["weight"] + delta)
        if kind in EVIDENCE:
            data["evidence"] = max(0.0, data["evidence"] + delta)
        if data["evidence"] > 1e-12 or kind in EVIDENCE:
            # Outlets are found on evidence edges only: a change elsewhere cannot move them.
            self.dirty.update((a, b))
        if data["evidence"] > 1e-12 and data["weight"] > 1e-12:
            self.ev.add_edge(a, b, weight=data["weight"], evidence=data["evidence"])
        elif self.ev.has_edge(a, b):
            self.ev.remove_edge(a, b)
        if data["weight"] <= 1e-12:
            self.g.remove_edge(a, b)

    def evidence_graph(self, nodes: set[str]) -> nx.Graph:
        """The subgraph of ``nodes`` kept to edges with evidence beyond shared bank items."""
        return self.ev.subgraph(nodes).copy()

    def shared_evidence(self, account: str, members: set[str]) -> int:
        """How many distinct evidence features ``account`` shares with other ``members``."""
        return sum(1 for f in self.features[account]
                   if f[0] in EVIDENCE and self._applied.get(f, 0.0) > 0
                   and any(b != account and b in members for b in self.holders[f]))

    def evidence_purity(self, account: str) -> float:
        """Of the unbanked material ``account`` co-posted with anyone, the share that counts as evidence:
        low for a news account whose wire photos are mostly posted by unflagged accounts too."""
        shared = [f for f in self.features[account] if f[0] == "cluster" and len(self.holders[f]) >= 2]
        if not shared:
            return 1.0
        return sum(1 for f in shared if self._applied.get(f, 0.0) > 0) / len(shared)

    def shared(self, a: str, b: str) -> dict[str, float]:
        data = self.g.get_edge_data(a, b) or {}
        return {k: round(v, 4) for k, v in data.items() if k not in ("weight", "evidence") and v > 1e-12}
