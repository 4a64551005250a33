"""The client's address: the direct peer, or what trusted reverse proxies say it is."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address in network for network in proxies)


def resolve_client(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """`X-Forwarded-For` is read only when the peer is a trusted proxy, from the right (the hop
    nearest us) leftwards, skipping trusted proxies: the first other address is the client. A
    client may put anything at the left of the header, so nothing past that address is read; an
    entry that is not an address stops the walk at the last trusted hop."""
    if peer is None:
        return UNKNOWN
    current = _ip(peer)
    if current is None or not _trusted(current, proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, proxies):
            break
    return str(current)
