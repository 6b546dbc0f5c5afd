"""The outlets domain in memory: posts in, flagged accounts, outlets and candidates out.

One engine behind the service (which persists and notifies), the evaluation and
the benchmark: each feeds :class:`Post` objects to :meth:`Tracker.observe` and
acts on the :class:`Changes` it returns.  The tracker can always be rebuilt by
replaying the stored posts in order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from crossmatch.outlets.clusters import Clusters, Rule
from crossmatch.outlets.communities import Communities, OutletChange
from crossmatch.outlets.graph import AccountGraph, Feature
from crossmatch.outlets.record import DAY, AccountRecord, Post
from crossmatch.settings import OutletSettings


@dataclass
class Changes:
    flagged: list[AccountRecord] = field(default_factory=list)
    outlets: list[OutletChange] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)  # cluster ids newly backed by enough flagged accounts

    def __bool__(self) -> bool:
        return bool(self.flagged or self.outlets or self.candidates)


class Tracker:
    def __init__(self, settings: OutletSettings, rules: dict[str, Rule], seed: int = 0) -> None:
        self.settings = settings
        weights = {"item": settings.weight_bank_item, "cluster": settings.weight_cluster, "link": settings.weight_link,
                   "domain": settings.weight_domain, "mark": settings.weight_mark}
        self.graph = AccountGraph(weights, settings.common_feature_accounts, settings.min_flagged_share)
        self.communities = Communities(settings.louvain_resolution, settings.min_outlet_accounts,
                                       settings.min_member_strength, seed, settings.min_member_features,
                                       settings.min_member_purity)
        self.clusters = Clusters(rules)
        self.accounts: dict[str, AccountRecord] = {}
        self.features: dict[str, set[Feature]] = defaultdict(set)
        self.pending: dict[str, list[Post]] = defaultdict(list)  # unbanked posts of accounts not yet watched
        self.candidates: dict[int, float] = {}  # cluster id -> when it became a candidate
        self.seen: set[str] = set()
        self._since_recluster = 0

    def observe(self, post: Post) -> Changes:
        """Add one post; re-cluster every ``recluster_every_posts`` posts that changed the graph."""
        changes = self.add(post)
        if self.graph.dirty:
            self._since_recluster += 1
            if self._since_recluster >= self.settings.recluster_every_posts:
                changes.outlets = self.recluster(post.at)
        return changes

    def recluster(self, now: float) -> list[OutletChange]:
        self._since_recluster = 0
        return self.communities.update(self.graph, now)

    def add(self, post: Post) -> Changes:
        changes = Changes()
        if post.key in self.seen or post.account is None:
            return changes  # a rerun, or a post nobody can be held to (never merged into an account)
        self.seen.add(post.key)
        account = post.account
        record = self.accounts.get(account)
        if record is None:
            record = self.accounts[account] = AccountRecord(account, post.platform, post.at, post.at)
        was_watched = record.watched
        record.add(post)
        for m in post.matches:
            self._hold(account, ("mark" if m.mark else "item", m.bank_item_id))
        for link in post.links:
            self._hold(account, ("link", link))
        for domain in post.domains:
            self._hold(account, ("domain", domain))
        if post.unbanked and not any(not m.mark for m in post.matches):
            if record.watched:
                self._cluster(post, changes)
            else:
                self._keep_pending(post)
        if record.watched and not was_watched:
            for earlier in self.pending.pop(account, []):
                self._cluster(earlier, changes)
        if record.flagged_at is None:
            s = self.settings
            reason = record.crosses(post.at, s.flag_distinct_items, s.flag_window_days, s.flag_translations)
            if reason:
                record.flagged_at, record.flag_reason = post.at, reason
                self.graph.flag(account, self.features[account])
                changes.flagged.append(record)
                for kind, cid in self.features[account]:
                    if kind == "cluster":
                        self._check_candidate(int(cid), post.at, changes)
        return changes

    def _hold(self, account: str, feature: Feature) -> None:
        self.features[account].add(feature)
        self.graph.hold(account, feature)

    def _keep_pending(self, post: Post) -> None:
        kept = self.pending[post.account]
        kept.append(post)
        horizon = post.at - self.settings.retention_days * DAY
        if kept[0].at < horizon:
            self.pending[post.account] = [p for p in kept if p.at >= horizon]

    def _cluster(self, post: Post, changes: Changes) -> None:
        for cid in self.clusters.assign(post.key, post.account, post.unbanked):
            self._hold(post.account, ("cluster", cid))
            self._check_candidate(cid, post.at, changes)

    def _check_candidate(self, cid: int, now: float, changes: Changes) -> None:
        if cid in self.candidates:
            return
        backers = self.flagged_backers(cid)
        share = len(backers) / max(1, len(self.clusters.by_id[cid].accounts))
        if len(backers) >= self.settings.candidate_min_accounts and share >= self.settings.min_flagged_share:
            self.candidates[cid] = now
            changes.candidates.append(cid)

    def flagged_backers(self, cid: int) -> list[str]:
        cluster = self.clusters.by_id[cid]
        return sorted(a for a in cluster.accounts if self.accounts[a].flagged_at is not None)
