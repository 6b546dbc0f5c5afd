"""Where webhooks may send, and how their URLs are shown.

``service.webhook_egress``, checked when a webhook is saved and again, after DNS,
before every delivery (a name that later resolves elsewhere is caught there):

- ``local`` (the default): a receiver on the same box or LAN works out of the box, but
  link-local addresses (169.254.169.254, the cloud metadata service that hands out
  credentials, and fe80::/10) and the unspecified address are refused: nobody runs a
  webhook receiver there, and a webhook pointed at one is an attack;
- ``public``: only globally routable addresses (SECURITY.md tells operators to set it
  unless their receivers are internal);
- ``any``: no check, for a receiver on a link-local address.

URLs are redacted wherever they are recorded (audit trail, delivery errors): a
password in ``user:pass@`` and the values of the query string are replaced by
``***``, since receivers often take their credentials there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crossmatch.errors import InvalidInput

POLICIES = ("local", "public", "any")


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


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address as resolved (a zone id dropped), an IPv4-mapped IPv6 address as its IPv4 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(address: str) -> bool:
    ip = _ip(address)
    return ip.is_global and not ip.is_multicast


def _refused(address: str, policy: str) -> bool:
    if policy == "public":
        return not is_public(address)
    ip = _ip(address)
    return ip.is_link_local or ip.is_unspecified


def check_destination(url: str, policy: str) -> None:
    """InvalidInput if the URL's host resolves to an address ``policy`` forbids (see the module doc)."""
    if policy == "any":
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        if policy == "local":  # no address to refuse yet: a name resolvable only where the server runs
            return  # is checked again before each delivery, and a send to it fails if it still does not resolve
        raise InvalidInput(f"webhook host {host!r} does not resolve ({exc})") from None
    refused = sorted({info[4][0] for info in infos if _refused(info[4][0], policy)})
    if refused and policy == "public":
        raise InvalidInput(f"webhook host {host!r} resolves to {', '.join(refused)}, which service.webhook_egress='public' "
                           "forbids (loopback, private, link-local); use a public receiver or set webhook_egress='local'")
    if refused:
        raise InvalidInput(f"webhook host {host!r} resolves to {', '.join(refused)}: a link-local or unspecified address "
                           "(such as the cloud metadata service), which service.webhook_egress='local' forbids; use the "
                           "receiver's own address, or set webhook_egress='any' if it really listens there")
