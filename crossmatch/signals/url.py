"""URL signals: canonicalised URLs, exact match (links to known outlets and uploads)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError, InvalidSignal, Signal
from crossmatch.signals.exact import EqualityMatching

# URLs inside posts: explicit schemes or www. hosts (bare domains are too ambiguous in prose).
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)[^\s<>\"'\)\]]+", re.IGNORECASE)
_TRAILING = ".,;:!?»”"
_HOST = re.compile(r"[^\s\x00-\x20/\\@]+\.[^\s\x00-\x20/\\@.]+|[0-9a-f]*:[0-9a-f:]+|localhost", re.IGNORECASE)

# Tracking parameters vary per share and say nothing about the target.
_TRACKING_PREFIXES = ("utm_", "fbclid", "gclid", "igshid", "si", "ref_src", "feature")


def canonical_url(raw: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments, ``www.`` and tracking parameters.

    >>> canonical_url("HTTPS://www.Example.com:443/a/b/?utm_source=x&id=3#top")
    'https://example.com/a/b?id=3'
    """
    raw = raw.strip()
    try:  # urllib raises ValueError for a bad port or a broken IPv6 literal: one bad link, not a crash
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidSignal(f"not a URL: {raw[:80]!r} ({exc})") from None
    if not hostname or not _HOST.fullmatch(hostname):
        raise InvalidSignal(f"not a URL: {raw[:80]!r}")
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme.lower()
    host = hostname.lower().removeprefix("www.")
    if ":" in host:  # IPv6 literals keep their brackets
        host = f"[{host}]"
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_TRACKING_PREFIXES)]
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


@dataclass(frozen=True)
class UrlType(EqualityMatching):
    name: str = "url"
    content_kinds: frozenset[str] = frozenset({"url", "text"})

    def validate(self, value: str) -> str:
        return canonical_url(value)

    def hash(self, content: Content) -> list[Signal]:
        """The item's own URL and every link in its text, canonicalised and de-duplicated."""
        raw = [content.url] if content.url else []
        if content.kind == "url" and content.url:
            try:  # a URL item that is no URL was not checked: say so rather than answer "no match"
                canonical_url(content.url)
            except InvalidSignal as exc:
                raise ContentError(f"{content.item}: {exc}; send a URL like https://example.com/path") from None
        if content.text:
            raw += [m.group(0).rstrip(_TRAILING) for m in _URL_IN_TEXT.finditer(content.text)]
        values: dict[str, None] = {}
        for url in raw:
            try:
                values[canonical_url(url)] = None
            except InvalidSignal:
                continue  # a malformed link in prose is not an error of the item
        return [Signal(self.name, v) for v in values]

    def examples(self) -> list[Signal]:
        return [Signal(self.name, canonical_url(u)) for u in ("example.com/a", "https://example.org/?id=1")]


def create(settings: Settings) -> UrlType:
    return UrlType()
