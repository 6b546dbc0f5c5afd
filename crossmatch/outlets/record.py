"""What one post says about its account, and each account's running record.

A post is reduced to signals and metadata (:class:`Post`): which bank items it
matched and how (a translation, an excerpt, an edited copy), its language, links
and unbanked signals.  The account record adds these up and decides the
``account.flagged`` rule.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

DAY = 86400.0
KINDS = ("translation", "excerpt", "edited")
EXCERPT_COVERAGE = 0.8  # a text match covering less of the bank item than this is an excerpt


@dataclass(frozen=True)
class PostMatch:
    bank_item_id: int
    bank: str
    signal_type: str
    how: tuple[str, ...] = ()  # subset of KINDS
    labels: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    mark: bool = False  # an outlet mark (logo, watermark): evidence of who, not of what

    def to_json(self) -> dict[str, Any]:
        return {"bank_item_id": self.bank_item_id, "bank": self.bank, "signal_type": self.signal_type,
                "how": list(self.how), "labels": self.labels, "mark": self.mark}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PostMatch":
        return cls(int(data["bank_item_id"]), data["bank"], data["signal_type"], tuple(data.get("how") or ()),
                   data.get("labels") or {}, bool(data.get("mark")))


@dataclass(frozen=True)
class Post:
    key: str
    account: str | None
    platform: str | None
    at: float  # epoch seconds (posted_at, else the scan time)
    matches: tuple[PostMatch, ...] = ()
    unbanked: tuple[tuple[str, str], ...] = ()  # (signal type, value) of a post that matched no bank
    links: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    language: str | None = None


def classify(match: Any) -> tuple[str, ...]:
    """How a query matched a bank item (an engine :class:`~crossmatch.engine.Match`)."""
    ev = match.evidence or {}
    how: list[str] = []
    aligned = ev.get("aligned") or []
    if any(p.get("query_lang") and p.get("bank_lang") and p["query_lang"] != p["bank_lang"] for p in aligned):
        how.append("translation")
    coverage = ev.get("bank_coverage")
    if (coverage is not None and coverage < EXCERPT_COVERAGE) or ev.get("bank_box") or ev.get("query_box"):
        how.append("excerpt")
    edited = (match.distance is not None and match.distance > 0) or (match.score is not None and match.score < 0.95)
    if edited or match.signal_type == "keypoints":
        how.append("edited")
    return tuple(how)


def post_language(signals: Iterable[Any]) -> str | None:
    langs = Counter(s.meta.get("lang") for s in signals if getattr(s, "meta", None) and s.meta.get("lang"))
    return langs.most_common(1)[0][0] if langs else None


@dataclass
class AccountRecord:
    account: str
    platform: str | None
    first_seen: float
    last_seen: float
    posts: int = 0
    matched_posts: int = 0
    items: dict[int, list[float]] = field(default_factory=dict)  # bank item -> times matched
    signal_types: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    how: Counter = field(default_factory=Counter)  # translation / excerpt / edited matches
    translated_items: set[int] = field(default_factory=set)
    entities: Counter = field(default_factory=Counter)
    marks: set[int] = field(default_factory=set)
    flagged_at: float | None = None
    flag_reason: str | None = None

    @property
    def watched(self) -> bool:
        """Seen with known material or a mark: its unbanked posts are worth clustering."""
        return bool(self.items or self.marks)

    def rate_per_day(self) -> float:
        return self.posts / max(1.0, (self.last_seen - self.first_seen) / DAY)

    def add(self, post: Post) -> None:
        self.posts += 1
        self.first_seen = min(self.first_seen, post.at)
        self.last_seen = max(self.last_seen, post.at)
        if post.language:
            self.languages[post.language] += 1
        if any(not m.mark for m in post.matches):
            self.matched_posts += 1
        for m in post.matches:
            if m.mark:
                self.marks.add(m.bank_item_id)
                continue
            self.items.setdefault(m.bank_item_id, []).append(post.at)
            self.signal_types[m.signal_type] += 1
            for kind in m.how:
                self.how[kind] += 1
            if "translation" in m.how:
                self.translated_items.add(m.bank_item_id)
            for name in ("entity", "entities", "group", "organisation", "organization"):
                value = m.labels.get(name)
                for entity in value if isinstance(value, list) else [value] if value else []:
                    self.entities[str(entity)] += 1

    def crosses(self, now: float, distinct_items: int, window_days: int, translations: int) -> str | None:
        """The flag rule: the reason it is crossed, or None."""
        since = now - window_days * DAY
        recent = sum(1 for times in self.items.values() if any(since <= t <= now for t in times))
        if recent >= distinct_items:
            return f"{recent} distinct known items within {window_days} days"
        if len(self.translated_items) >= translations:
            return f"translations of {len(self.translated_items)} known items"
        return None

    def to_json(self) -> dict[str, Any]:
        from datetime import datetime, timezone

        iso = lambda t: datetime.fromtimestamp(t, tz=timezone.utc).isoformat() if t is not None else None  # noqa: E731
        return {
            "account": self.account, "platform": self.platform, "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen), "posts": self.posts, "matched_posts": self.matched_posts,
            "rate_per_day": round(self.rate_per_day(), 3), "items": sorted(self.items),
            "signal_types": dict(self.signal_types), "languages": dict(self.languages),
            "translations": self.how["translation"], "excerpts": self.how["excerpt"], "edited": self.how["edited"],
            "entities": dict(self.entities), "marks": sorted(self.marks),
            "flagged_at": iso(self.flagged_at), "flag_reason": self.flag_reason,
        }
