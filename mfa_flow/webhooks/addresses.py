"""Which addresses a webhook may be sent to: https URLs to hosts that are valid DNS names or IP
addresses, public ones (checked again after name resolution, and for IP literals by the URL
check itself), never a multicast, special-purpose or cloud metadata address. An IPv6 address
that carries an IPv4 address (mapped, SIIT, NAT64 and its local-use prefix, 6to4,
IPv4-compatible) is judged by the IPv4 address it carries."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Cloud instance metadata services: refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

# Ranges an operator may use for receivers inside their own network: allowed only with
# MFA_FLOW_WEBHOOK_ALLOW_PRIVATE. Each with the words a refusal uses.
PRIVATE_USE: tuple[tuple[tuple[_Network, ...], str], ...] = (
    (_networks("127.0.0.0/8", "::1/128"), "a loopback address"),
    (_networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "a private address (RFC 1918)"),
    (_networks("fc00::/7"), "a private address (IPv6 unique local, RFC 4193)"),
    (_networks("100.64.0.0/10"), "a carrier-grade NAT address (RFC 6598 shared address space)"),
    (_networks("169.254.0.0/16", "fe80::/10"), "a link-local address"),
    (_networks("fec0::/10"), "a site-local address (deprecated IPv6)"),
)

# Special-purpose ranges (IANA's IPv4 and IPv6 special-purpose address registries) where no
# webhook receiver can be: refused whatever the settings. Multicast, unspecified and
# broadcast addresses are recognised by ``ipaddress`` itself; anything else that is not
# global (``is_global``) is refused too, as "a special-purpose address".
NEVER: tuple[tuple[tuple[_Network, ...], str], ...] = (
    (_networks("0.0.0.0/8"), "in 0.0.0.0/8 ('this network', RFC 791)"),
    (_networks("240.0.0.0/4"), "a reserved address (240.0.0.0/4)"),
    (_networks("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
     "a documentation address (RFC 5737, RFC 3849, RFC 9637)"),
    (_networks("198.18.0.0/15", "2001:2::/48"), "a benchmarking address (RFC 2544, RFC 5180)"),
    (_networks("192.0.0.0/24", "2001::/23"), "an IETF protocol assignment (RFC 6890)"),
    (_networks("192.88.99.0/24"), "a 6to4 relay anycast address (deprecated, RFC 7526)"),
    (_networks("100::/64"), "a discard-only address (RFC 6666)"),
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
    a host that is a valid DNS name or an allowed IP address, no credentials. An IP literal
    is checked here, at registration and at every delivery alike: no resolver sees it."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("the URL has a space or a control character; percent-encode it")
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
    if port == 0:
        raise UnsafeUrl("port 0 cannot be connected to; give a port from 1 to 65535")
    plain_http = parts.scheme == "http"
    host = parts.hostname
    literal = _ip_literal(host)
    if literal is not None:
        reason = address_refusal(literal, allow_private, plain_http)
        if reason:
            raise UnsafeUrl(f"the host {host} is {reason}")
    elif problem := host_name_problem(host):
        raise UnsafeUrl(problem)
    return Target(url, host, port or (80 if plain_http else 443), plain_http)


def _ip_literal(host: str) -> _Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
MAX_NAME_LENGTH = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 characters written
MAX_LABEL_LENGTH = 63


def host_name_problem(host: str) -> str | None:
    """Why ``host`` (lower case, as ``urlsplit`` gives it) is not a DNS host name, or None.
    Internationalised names are checked and converted by the ``idna`` package (IDNA 2008 with
    UTS #46 mapping, as ``yarl`` sends them)."""
    name = host[:-1] if host.endswith(".") else host  # one trailing dot: a fully qualified name
    if not name.isascii() or "xn--" in name:
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            return f"the host is not a valid internationalised domain name ({exc})"
    if len(name) > MAX_NAME_LENGTH:
        return f"the host name is {len(name)} characters long; DNS allows at most {MAX_NAME_LENGTH}"
    labels = name.split(".")
    for number, label in enumerate(labels, 1):
        if not label:
            return f"label {number} of the host name is empty (two dots in a row, or a dot first)"
        if len(label) > MAX_LABEL_LENGTH:
            return (f"label {number} of the host name is {len(label)} characters long; DNS allows at most"
                    f" {MAX_LABEL_LENGTH}")
        if not _LABEL.fullmatch(label):
            return (f"label {number} of the host name may hold only letters, digits and hyphens, and may not"
                    " start or end with a hyphen")
    if labels[-1].isdigit():
        return "the host's last label is all digits: write an IPv4 address as four dotted decimal numbers"
    return None


# IPv6 ranges whose addresses carry an IPv4 address that a connection to them may end up at
# (through a translator or a tunnel). Each is judged by that IPv4 address. The byte slices
# of the 16-byte address that hold it: RFC 6052 §2.2 puts the IPv4 address after the prefix,
# skipping bits 64 to 71 (the "u" octet).
_LAYOUTS = {16: ((2, 6),),  # 6to4 (RFC 3056): right after its 16-bit prefix
            32: ((4, 8),), 40: ((5, 8), (9, 10)), 48: ((6, 8), (9, 11)), 56: ((7, 8), (9, 12)),
            64: ((9, 13),), 96: ((12, 16),)}
_ANY = ipaddress.IPv6Address("::")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_EMBEDDING: tuple[tuple[ipaddress.IPv6Network, str, tuple[int, ...]], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "the IPv4-mapped range ::ffff:0:0/96", (96,)),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "the SIIT range ::ffff:0:0:0/96 (RFC 2765)", (96,)),
    (ipaddress.IPv6Network("64:ff9b::/96"), "the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052)", (96,)),
    # RFC 8215's local-use prefix: the operator chooses the length (/48 to /96), and with it
    # where the IPv4 address sits; the address is judged by every place it may sit (a
    # translator may ignore the bits RFC 6052 wants zero, so none is ruled out by them).
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "the NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215)",
     (96, 64, 56, 48)),
    (ipaddress.IPv6Network("2002::/16"), "the 6to4 range 2002::/16 (RFC 3056)", (16,)),
    (ipaddress.IPv6Network("::/96"), "the IPv4-compatible range ::/96 (deprecated, RFC 4291)", (96,)),
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The range an IPv6 address belongs to that carries an IPv4 address, and the IPv4
    addresses it may carry, or None: where a connection to it may end up. Teredo (2001::/32)
    is not listed: it is refused whole (an IETF protocol assignment, 2001::/23), whatever it
    carries."""
    packed = ip.packed
    for network, name, lengths in _EMBEDDING:
        if ip not in network or (network.prefixlen == 96 and network.network_address == _ANY and int(ip) <= 1):
            continue  # :: and ::1 carry no IPv4 address
        found = [ipaddress.IPv4Address(b"".join(packed[a:b] for a, b in _LAYOUTS[length])) for length in lengths]
        return name, list(dict.fromkeys(found))
    return None


def _named(ip: _Address, table: tuple[tuple[tuple[_Network, ...], str], ...]) -> str | None:
    for networks, name in table:
        if any(ip.version == net.version and ip in net for net in networks):
            return name
    return None


def address_refusal(address: str | _Address, allow_private: bool, plain_http: bool = False) -> str | None:
    """Why the service will not call ``address``, or None."""
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip not in METADATA_ADDRESSES:
        if (embedded := embedded_ipv4(ip)) is not None:
            name, candidates = embedded  # judged by what it carries, the IPv6 wrapping aside
            refused = [(c, reason) for c in candidates if (reason := _refusal(c, allow_private, plain_http))]
            if not refused:
                return None
            # Of several readings, name one that is not mere zero padding (0.0.0.0/8) if any.
            candidate, reason = min(refused, key=lambda found: found[0] in _THIS_NETWORK)
            return f"{reason}: {candidate}, carried in {name}"
    return _refusal(ip, allow_private, plain_http)


def _refusal(ip: _Address, allow_private: bool, plain_http: bool) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    if never := _named(ip, NEVER):
        return never
    private_use = _named(ip, PRIVATE_USE)
    if plain_http and not ip.is_loopback:
        return "not a loopback address, and plain http is allowed to loopback only"
    if private_use:
        return None if allow_private else private_use
    if not ip.is_global:
        return "a special-purpose address, not a public one"
    return None


async def resolve_checked(target: Target, allow_private: bool) -> list[str]:
    """Resolve the host and refuse it if any address it resolves to is refused."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UnsafeUrl(f"the host {target.host} does not resolve: {why}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        reason = address_refusal(address, allow_private, target.plain_http)
        if reason:
            raise UnsafeUrl(f"the host {target.host} resolves to {address}, {reason}")
    return addresses
