"""Who posted it: the optional ``source`` of a submission, checked and pseudonymised.

A source is metadata about a post (platform, account, post id, url, time, links,
reply/repost parent).  Every field is optional: a missing or malformed one is
dropped with a warning and the post is still scanned.  A post without a usable
account is kept unattributed, never guessed into someone else's account.

Account ids are a keyed hash (HMAC-SHA256) of platform + handle, so the same
handle on the same platform is one account across runs and machines sharing
the key, while the stored id does not reveal the handle.  The raw handle is
kept only when ``outlets.keep_handles`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crossmatch.settings import Settings

FIELDS = ("platform", "account", "post_id", "url", "posted_at", "links", "parent")
MAX_TEXT = 300
MAX_LINKS = 50
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class Source:
    platform: str | None = None
    account: str | None = None  # pseudonymised key ("acct_<hex>"), or None when unknown
    handle: str | None = None  # raw handle: only with outlets.keep_handles
    post_id: str | None = None
    url: str | None = None
    posted_at: datetime | None = None
    links: tuple[str, ...] = ()
    parent: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for d in (link_domain(u) for u in self.links) if d))

    def post_key(self) -> str | None:
        """One post, whoever submits it again: platform + post id (None without both)."""
        return f"{self.platform}:{self.post_id}" if self.platform and self.post_id else None

    def to_json(self, with_handle: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "platform": self.platform, "account": self.account, "post_id": self.post_id, "url": self.url,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None, "links": list(self.links),
            "parent": self.parent,
        }
        if with_handle:
            out["handle"] = self.handle
        return out


def pseudonym_key(settings: Settings) -> bytes:
    """The configured key, else one generated once and kept (mode 600) in the data directory."""
    if settings.outlets.pseudonym_key:
        return settings.outlets.pseudonym_key.encode()
    path = Path(settings.home) / "pseudonym_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(32))
        tmp.chmod(0o600)
        tmp.replace(path)  # atomic: two processes starting together end with one key
    return path.read_text().strip().encode()


def pseudonymise(key: bytes, platform: str, handle: str) -> str:
    # Handles are case-insensitive on the platforms we know; '@' is decoration.
    normal = handle.strip().lstrip("@").casefold()
    return "acct_" + hmac.new(key, f"{platform}\x00{normal}".encode(), hashlib.sha256).hexdigest()[:24]


def link_domain(url: str) -> str | None:
    try:
        host = (urlsplit(url).hostname or "").casefold()
    except ValueError:
        return None
    return host[4:] if host.startswith("www.") else host or None


def _text(raw: dict[str, Any], name: str, warnings: list[str]) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        warnings.append(f"source.{name} must be text, not {type(value).__name__}; ignored")
        return None
    if len(value) > MAX_TEXT:
        warnings.append(f"source.{name} is {len(value)} characters (at most {MAX_TEXT}); ignored")
        return None
    return value.strip() or None


def _time(raw: dict[str, Any], warnings: list[str]) -> datetime | None:
    value = raw.get("posted_at")
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        warnings.append(f"source.posted_at {str(value)[:40]!r} is not an ISO 8601 time or epoch seconds; "
                        "the time of the scan is used instead")
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _links(raw: dict[str, Any], warnings: list[str]) -> tuple[str, ...]:
    value = raw.get("links")
    if value in (None, []):
        return ()
    if not isinstance(value, list):
        warnings.append("source.links must be a list of URLs; ignored")
        return ()
    links = []
    for link in value[:MAX_LINKS]:
        if isinstance(link, str) and urlsplit(link).scheme in ("http", "https") and link_domain(link):
            links.append(link.strip()[:MAX_TEXT])
        else:
            warnings.append(f"source.links: {str(link)[:60]!r} is not an http(s) URL; ignored")
    if len(value) > MAX_LINKS:
        warnings.append(f"source.links: only the first {MAX_LINKS} of {len(value)} links are kept")
    return tuple(dict.fromkeys(links))


def parse_source(raw: Any, key: bytes, keep_handles: bool = False) -> Source | None:
    """A :class:`Source` from an untrusted object; None when there is none at all.

    Never raises on bad fields: each becomes a warning on the result.
    """
    if raw is None:
        return None
    warnings: list[str] = []
    if not isinstance(raw, dict):
        return Source(warnings=(f"source must be an object with {', '.join(FIELDS)}; "
                                f"got {type(raw).__name__}, so the post is kept without an account",))
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        warnings.append(f"source fields {unknown} are not known and were ignored (known: {', '.join(FIELDS)})")
    platform = _text(raw, "platform", warnings)
    if platform is not None:
        platform = platform.casefold()
        if not _PLATFORM.match(platform):
            warnings.append(f"source.platform {platform[:40]!r} must be a short name like 'telegram'; ignored")
            platform = None
    handle = _text(raw, "account", warnings)
    account = None
    if handle is not None and platform is None:
        # The same handle on two platforms may be two people: never merge on the handle alone.
        warnings.append("source.account without source.platform cannot be attributed; the post is kept without an account")
    elif handle is not None:
        account = pseudonymise(key, platform, handle)
    elif platform is not None:
        warnings.append("source.account is missing; the post is kept without an account")
    return Source(
        platform=platform, account=account, handle=handle if keep_handles and account else None,
        post_id=_text(raw, "post_id", warnings), url=_text(raw, "url", warnings), posted_at=_time(raw, warnings),
        links=_links(raw, warnings), parent=_text(raw, "parent", warnings), warnings=tuple(warnings),
    )
