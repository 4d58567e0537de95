"""Who is on the other end: the client address that abuse limits count."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from ..settings import Network
from .keys import SETTINGS

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str) -> IP | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def trusted_peer(ip: IP, proxies: Iterable[Network]) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """The socket's peer, unless it is a trusted proxy: then the nearest address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (read from the right, as each proxy
    appends the address it saw). A client can write anything to the left of that, so only
    what trusted proxies appended is believed; a malformed entry ends the walk."""
    peer = peer or ""
    peer_ip = _ip(peer)
    if peer_ip is None or not proxies or not trusted_peer(peer_ip, proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    nearest = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        nearest = str(ip)
        if not trusted_peer(ip, proxies):
            break
    return nearest


def request_address(request: web.Request) -> str:
    return client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), request.app[SETTINGS].trusted_proxies
    )
