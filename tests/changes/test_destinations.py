"""Subscription URLs and the addresses they resolve to: what is refused, and why (SSRF)."""

from __future__ import annotations

import pytest

from ratecard.changes.destinations import DestinationRefused, resolve_destination, validate_url


def fixed(*addresses: str):
    return lambda _host, _port: list(addresses)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://hooks.example.com/", "http:// or https://"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://token@hooks.example.com/x", "credentials"),
        ("https:///path-only", "no host"),
        ("https://hooks.example.com:99999/", "cannot be parsed"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("", "empty"),
        ("https://hooks.example.com:0/x", "port must be 1 to 65535"),
        ("https://hooks.example.com/a\x00b", "control characters"),
        ("https://hooks.example.com/x\r\nX-Injected: 1", "line breaks"),
        ("https://hooks.example.com/a\tb", "tabs"),
        ("https://hooks.example.com/a b", "spaces"),
        (" https://hooks.example.com/x", "spaces"),
        ("https://hooks.example.com/\ud800", "control characters"),
    ],
)
def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefused, match=reason):
        validate_url(url)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT: not global
        ("169.254.169.254", "link-local"),  # the cloud metadata endpoint
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is judged as the IPv4 address
        ("0.0.0.0", "not a unicast"),
        ("224.0.0.1", "not a unicast"),
    ],
)
def test_private_addresses_are_refused_unless_allowed(address: str, kind: str) -> None:
    with pytest.raises(DestinationRefused, match=kind):
        resolve_destination(
            "https://hooks.example.com/x", allow_private=False, resolver=fixed(address)
        )
    allowed = resolve_destination(
        "https://hooks.example.com/x", allow_private=True, resolver=fixed(address)
    )
    assert allowed.server_name == "hooks.example.com"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(DestinationRefused, match="private"):
        resolve_destination(
            "https://hooks.example.com/x",
            allow_private=False,
            resolver=fixed("93.184.216.34", "10.0.0.5"),
        )


def test_the_request_goes_to_the_checked_address_with_the_name_kept() -> None:
    dest = resolve_destination(
        "https://hooks.example.com:8443/in?a=1",
        allow_private=False,
        resolver=fixed("93.184.216.34"),
    )
    assert dest.connect_url == "https://93.184.216.34:8443/in?a=1"
    assert dest.host_header == "hooks.example.com:8443"
    assert dest.server_name == "hooks.example.com"


def test_ip_literal_urls_are_checked_without_a_lookup() -> None:
    def no_lookup(_host: str, _port: int) -> list[str]:
        raise AssertionError("an IP literal needs no DNS lookup")

    with pytest.raises(DestinationRefused, match="loopback"):
        resolve_destination("http://127.0.0.1:8080/x", allow_private=False, resolver=no_lookup)
    dest = resolve_destination("http://[2606:4700::1]/x", allow_private=False, resolver=no_lookup)
    assert dest.connect_url == "http://[2606:4700::1]:80/x"


def test_a_host_that_does_not_resolve_is_refused() -> None:
    def fails(_host: str, _port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(DestinationRefused, match="does not resolve"):
        resolve_destination("https://nowhere.invalid/", allow_private=True, resolver=fails)
