"""Which addresses a webhook may be sent to: https URLs to public hosts (checked again after
name resolution), never a cloud metadata service."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

# Cloud instance metadata services: refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


class UnsafeUrl(OSError):
    """A webhook URL or an address it resolves to that the service will not call.
    An OSError, so that aiohttp reports it as a connection error at delivery time."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    plain_http: bool


def check_url(url: str, allow_private: bool) -> Target:
    """The URL's shape: https (or http, to loopback only, when private addresses are allowed),
    a host, no credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"the URL is not valid: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("the URL must start with https://")
    if parts.scheme == "http" and not allow_private:
        raise UnsafeUrl("the URL must use https (plain http is allowed to loopback only, with "
                        "MFA_FLOW_WEBHOOK_ALLOW_PRIVATE=1)")
    if not parts.hostname:
        raise UnsafeUrl("the URL needs a host")
    if parts.username or parts.password:
        raise UnsafeUrl("put no credentials in the URL: verify the signature instead")
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.hostname, port or default, parts.scheme == "http")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, IPv4-compatible), which
    is where a connection to it may end up."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(address: str, allow_private: bool, plain_http: bool = False) -> str | None:
    """Why the service will not call ``address``, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local and not allow_private:
            return "a site-local address"
        ip = _embedded_ipv4(ip) or ip
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if plain_http and not ip.is_loopback:
        return "not a loopback address, and plain http is allowed to loopback only"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


async def resolve_checked(target: Target, allow_private: bool) -> list[str]:
    """Resolve the host and refuse it if any address it resolves to is refused."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"the host {target.host} does not resolve: {exc.strerror or exc}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        reason = address_refusal(address, allow_private, target.plain_http)
        if reason:
            raise UnsafeUrl(f"the host {target.host} resolves to {address}, {reason}")
    return addresses
