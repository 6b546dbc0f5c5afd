"""Where webhooks may send, and how their URLs are shown.

``service.webhook_egress``: ``any`` (the default, so a receiver on the same box or
LAN works out of the box) or ``public``: only globally routable addresses, checked
when a webhook is saved and again, after DNS, before every delivery (a name that
later resolves to 127.0.0.1 or 169.254.169.254 is refused).  SECURITY.md tells
operators to set ``public`` unless their receivers are internal.

URLs are redacted wherever they are recorded (audit trail, delivery errors): a
password in ``user:pass@`` and the values of the query string are replaced by
``***``, since receivers often take their credentials there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crossmatch.errors import InvalidInput

POLICIES = ("any", "public")


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_destination(url: str, policy: str) -> None:
    """InvalidInput if ``policy`` is ``public`` and the URL's host resolves to any non-public address."""
    if policy != "public":
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"webhook host {host!r} does not resolve ({exc})") from None
    private = sorted({info[4][0] for info in infos if not is_public(info[4][0])})
    if private:
        raise InvalidInput(f"webhook host {host!r} resolves to {', '.join(private)}, which service.webhook_egress='public' "
                           "forbids (loopback, private, link-local); use a public receiver or set webhook_egress='any'")
