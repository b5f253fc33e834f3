"""Where a webhook may be sent: URL rules at subscription time, address rules at every send.

Server-side request forgery is the risk: whoever can create a subscription can make ratecard
POST to any address it can reach (the cloud metadata endpoint, an internal admin port). So:
- the URL must be http(s), with a host, and no credentials (they would be stored and shown);
- every address its host resolves to must be public, unless RATECARD_WEBHOOK_ALLOW_PRIVATE
  is set (local fleets, tests);
- the check runs again at every delivery, and the request goes to the very address checked.
  Timeline that re-check prevents (DNS rebinding):
      t=0  hooks.example.com resolves to 203.0.113.5: the subscription is accepted
      t=60 its owner points it at 169.254.169.254; the next delivery would POST there
  Connecting to the address we checked (Host header and TLS SNI keep the name) closes the
  gap between "checked" and "connected", which a second lookup by the HTTP client would open.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class DestinationRefused(ValueError):
    """A webhook URL (or the address it resolves to) may not be used; says why."""


@dataclass(frozen=True)
class Destination:
    """A checked target: the URL to connect to (host replaced by the checked address)."""

    url: str
    connect_url: str
    host_header: str  # host[:port] as the subscriber wrote it
    server_name: str  # the host name for TLS SNI and certificate checks
    scheme: str


def system_resolver(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


# Whitespace, control characters and lone surrogates: nothing a URL holds unencoded.
_UNSENDABLE = re.compile("[\\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def validate_url(url: str) -> tuple[str, str, int]:
    """Check the URL's shape; return (scheme, host, port) or raise DestinationRefused."""
    if not isinstance(url, str) or not url.strip():
        raise DestinationRefused("the URL is empty")
    if len(url) > 2000:
        raise DestinationRefused("the URL is longer than 2000 characters")
    if _UNSENDABLE.search(url):
        # Stored, such a URL would be a different request line each time (CR/LF: a header
        # injected), or a database error (NUL): refused here, as its own field's error.
        raise DestinationRefused(
            "the URL must not contain spaces, tabs, line breaks or other control characters "
            "(percent-encode them)"
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"the URL cannot be parsed ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationRefused("the URL must not carry credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise DestinationRefused("the URL has no host")
    if parts.fragment:
        raise DestinationRefused("the URL must not have a #fragment")
    if port == 0:
        raise DestinationRefused("the URL's port must be 1 to 65535")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def refused_address(address: str) -> str | None:
    """Return why `address` is not a public destination, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives there)"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a unicast host address"
    if ip.is_private or not ip.is_global:
        return "private"
    return None


def resolve_destination(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> Destination:
    """Validate `url`, resolve its host and check every address; return where to connect."""
    scheme, host, port = validate_url(url)
    try:
        addresses = [host] if _is_ip(host) else resolver(host, port)
    except OSError as exc:
        raise DestinationRefused(f"the host {host!r} does not resolve ({exc})") from None
    if not addresses:
        raise DestinationRefused(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refused_address(address)
            if reason is not None:
                raise DestinationRefused(
                    f"the host {host!r} resolves to a {reason} address ({address}); set "
                    "RATECARD_WEBHOOK_ALLOW_PRIVATE=true to allow private destinations"
                )
    chosen = addresses[0]
    literal = f"[{chosen}]" if ":" in chosen else chosen
    parts = urlsplit(url.strip())
    connect_url = parts._replace(netloc=f"{literal}:{port}").geturl()
    return Destination(url, connect_url, parts.netloc, host, scheme)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
