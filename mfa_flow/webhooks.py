"""Webhooks: which events a change causes, how a message is signed, what an answer means,
which addresses may receive it, and the admin's view of endpoints and deliveries.

Everything down to "Addresses" is pure: the flow service and the Management API call
``flow_messages``/``factor_messages`` inside their unit of work (so a message exists if and
only if its change committed), and the worker (``worker.py``) calls ``sign_headers`` and
``judge`` around each attempt. Signatures follow the Standard Webhooks specification.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

import idna
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from . import machine
from .domain import Flow, Transition, iso
from .numbers import whole_number
from .problems import Problem, not_found

if TYPE_CHECKING:
    from .config import Settings
    from .crypto import SecretBox
    from .store import Database
    from .store.users import User
    from .store.webhooks import Endpoint, Job

EVENT_TYPES = (
    "flow.created",
    "flow.transitioned",
    "flow.completed",
    "flow.failed",
    "flow.expired",
    "flow.cancelled",
    "mfa.factor_enrolled",
    "mfa.factor_removed",
    "user.locked",
)
ALL_EVENTS = "*"

# Terminal states and the event that announces each (besides flow.transitioned).
_TERMINAL_EVENT = {
    machine.DONE: "flow.completed",
    machine.FAILED: "flow.failed",
    machine.EXPIRED: "flow.expired",
    machine.CANCELLED: "flow.cancelled",
}


# --- Messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One outbox row. ``id`` is the ``webhook-id`` of every attempt to every endpoint.
    Messages with one ``ordering_key`` (a flow, or a user for Management API changes)
    reach each endpoint in the order they were written."""

    id: str
    type: str
    ordering_key: str
    data: dict[str, Any]
    occurred_at: datetime


def _message(type_: str, key: str, data: dict[str, Any], at: datetime) -> Message:
    return Message(f"msg_{uuid.uuid4().hex}", type_, key, data, at)


def flow_created(flow: Flow) -> Message:
    data = {"flow_id": flow.id, "state": flow.state, "expires_at": iso(flow.expires_at)}
    return _message("flow.created", f"flow:{flow.id}", data, flow.created_at)


def flow_messages(flow: Flow, rows: list[Transition], user: "User | None") -> list[Message]:
    """The events a committed batch of transition rows causes.

    A rejected attempt (a wrong code or password: a row whose state does not change) causes
    none: nothing an embedding app acts on happened, and the attempt is in the audit log.
    If it was the last attempt, the ``lock`` row that follows it does cause events.
    """
    key = f"flow:{flow.id}"
    messages = []
    for row in rows:
        if row.from_state == row.to_state:
            continue
        about = {"flow_id": flow.id, "user_id": flow.user_id}
        messages.append(_message("flow.transitioned", key, {
            **about, "seq": row.seq, "event": row.event, "from_state": row.from_state,
            "to_state": row.to_state, "actor": row.actor, "at": iso(row.at),
        }, row.at))
        if row.data.get("enrolled"):
            messages.append(_enrolled(key, flow, row.data.get("factor"), row.data.get("verification_id"), row.at))
        if row.to_state == machine.BACKUP_CODES:
            # The set is stored on entering the state (codes shown once), so it counts from here.
            messages.append(_enrolled(key, flow, "backup_code", flow.stage.get("backup_code_set"), row.at))
        terminal = _TERMINAL_EVENT.get(row.to_state)
        if terminal == "flow.completed":
            result = flow.result or {}
            completed = {**about, "amr": result.get("amr", [])}
            if result.get("token"):
                completed["token"] = result["token"]
            messages.append(_message(terminal, key, completed, row.at))
        elif terminal == "flow.failed":
            messages.append(_message(terminal, key, {**about, "reason": row.data.get("reason")}, row.at))
            if row.data.get("reason") == "user_locked" and user is not None and user.locked_until is not None:
                locked = {"user_id": user.id, "flow_id": flow.id, "locked_until": iso(user.locked_until)}
                messages.append(_message("user.locked", key, locked, row.at))
        elif terminal is not None:
            messages.append(_message(terminal, key, about, row.at))
    return messages


def _enrolled(key: str, flow: Flow, factor: str | None, verification_id: str | None, at: datetime) -> Message:
    data = {"user_id": flow.user_id, "type": factor, "verification_id": verification_id, "flow_id": flow.id}
    return _message("mfa.factor_enrolled", key, data, at)


def factor_messages(change: str, user_id: str, factors: Iterable[tuple[str, str]], at: datetime) -> list[Message]:
    """``mfa.factor_enrolled`` / ``mfa.factor_removed`` for Management API changes;
    ``factors`` are (verification id, type) pairs."""
    return [
        _message(f"mfa.factor_{change}", f"user:{user_id}",
                 {"user_id": user_id, "type": type_, "verification_id": vid, "flow_id": None}, at)
        for vid, type_ in factors
    ]


def body(type_: str, occurred_at: datetime, data_json: str) -> bytes:
    """The request body: the same bytes on every attempt (``data`` as stored)."""
    return f'{{"type":{json.dumps(type_)},"timestamp":{json.dumps(iso(occurred_at))},"data":{data_json}}}'.encode()


# --- Signatures -----------------------------------------------------------------------------

SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, payload: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_headers(secrets: list[str], message_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """Standard Webhooks headers; one signature per live secret (two while a rotation overlaps)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, payload) for s in secrets),
        "content-type": "application/json",
    }


# --- Delivery policy ------------------------------------------------------------------------

MAX_RETRY_AFTER = 86400.0  # a receiver may ask for a pause, but not for a longer one than a day
TIMEOUT_SECONDS = 15.0
RESPONSE_EXCERPT = 1024  # bytes of a response body kept in the delivery log


@dataclass(frozen=True)
class Verdict:
    """What one attempt's answer means: ``succeeded``, ``pending`` (again after ``delay``
    seconds) or ``failed``; ``disable`` turns the endpoint off (it answered 410 Gone)."""

    status: str
    delay: float | None = None
    disable: bool = False


def judge(schedule: tuple[float, ...], tried_before: int, http_status: int | None,
          retry_after: float | None = None) -> Verdict:
    """``tried_before``: attempts already made in this round. ``http_status`` None: no
    answer (refused, unreachable, timed out). Entry i of the schedule is the wait before
    try i+1, so a schedule of n entries makes n tries."""
    if http_status is not None and 200 <= http_status < 300:
        return Verdict("succeeded")
    if http_status == 410:
        return Verdict("failed", disable=True)
    tried = tried_before + 1
    if tried >= len(schedule):
        return Verdict("failed")
    delay = schedule[tried]
    if http_status in (429, 503) and retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return Verdict("pending", delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if (seconds := whole_number(value)) is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


# --- Addresses ------------------------------------------------------------------------------

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


def _named(ip: _Address, table: tuple[tuple[tuple[_Network, ...], str], ...]) -> str | None:
    for networks, name in table:
        if any(ip.version == net.version and ip in net for net in networks):
            return name
    return None


def address_refusal(address: str | _Address, allow_private: bool, plain_http: bool = False) -> str | None:
    """Why the service will not call ``address``, or None."""
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
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


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to refused addresses. The connection is
    made to the very addresses checked, so DNS cannot change its answer in between."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = address_refusal(result["host"], self.allow_private)
            if reason:
                raise UnsafeUrl(f"the host {host} resolves to {result['host']}, {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


# --- Endpoints and deliveries (the admin's API) ------------------------------------------------


def endpoint_view(endpoint: "Endpoint") -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at)
        if endpoint.previous_secret_expires_at else None,
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def delivery_view(row: dict) -> dict[str, Any]:
    def at(name):
        return iso(row[name]) if row[name] else None

    return {
        "id": row["id"],
        "message_id": row["message_id"],
        "type": row["type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": at("next_attempt_at") if row["status"] == "pending" else None,
        "last_attempt_at": at("last_attempt_at"),
        "last_status": row["last_status"],
        "last_response": row["last_response"],
        "last_error": row["last_error"],
        "delivered_at": at("delivered_at"),
        "created_at": at("created_at"),
    }


def live_secrets(sealed: "Endpoint | Job", box: "SecretBox", now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous one for
    ``ROTATION_OVERLAP`` after a rotation."""
    secrets = [box.open(sealed.secret_sealed)]
    previous_until = sealed.previous_secret_expires_at
    if sealed.previous_secret_sealed and previous_until and previous_until > now:
        secrets.append(box.open(sealed.previous_secret_sealed))
    return secrets


class WebhookService:
    """Registering endpoints (URLs checked at registration, and again by the worker at every
    delivery), rotating their secrets, reading and retrying deliveries."""

    def __init__(self, db: "Database", settings: "Settings", box: "SecretBox"):
        self.db = db
        self.settings = settings
        self.box = box

    async def _checked_url(self, url: str) -> str:
        try:
            await resolve_checked(check_url(url, self.settings.webhook_allow_private), self.settings.webhook_allow_private)
        except UnsafeUrl as exc:
            raise Problem(422, "webhook-url-refused", "Webhook URL refused", f"url: {exc}") from None
        return url

    async def _endpoint(self, uow, endpoint_id: str, lock: bool = False) -> "Endpoint":
        endpoint = await uow.webhooks.get(endpoint_id, lock=lock)
        if endpoint is None:
            raise not_found(f"webhook {endpoint_id}")
        return endpoint

    async def create(self, body: dict) -> dict:
        url = await self._checked_url(body["url"])
        secret = new_secret()
        async with self.db.unit_of_work() as uow:
            endpoint = await uow.webhooks.add(url, _events(body["events"]), body.get("enabled", True),
                                              body.get("description"), self.box.seal(secret), _now())
            await uow.commit()
        return {**endpoint_view(endpoint), "secret": secret}

    async def list(self) -> list[dict]:
        async with self.db.unit_of_work() as uow:
            return [endpoint_view(e) for e in await uow.webhooks.all()]

    async def get(self, endpoint_id: str) -> dict:
        async with self.db.unit_of_work() as uow:
            return endpoint_view(await self._endpoint(uow, endpoint_id))

    async def update(self, endpoint_id: str, body: dict) -> dict:
        changes = dict(body)
        if "url" in changes:
            changes["url"] = await self._checked_url(changes["url"])
        if "events" in changes:
            changes["events"] = _events(changes["events"])
        if changes.get("enabled") is True:
            changes["disabled_reason"] = None
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id, lock=True)
            endpoint = await uow.webhooks.update(endpoint_id, changes, _now())
            await uow.commit()
        return endpoint_view(endpoint)

    async def delete(self, endpoint_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            if not await uow.webhooks.delete(endpoint_id):
                raise not_found(f"webhook {endpoint_id}")
            await uow.commit()

    async def rotate_secret(self, endpoint_id: str) -> dict:
        secret = new_secret()
        now = _now()
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id, lock=True)
            endpoint = await uow.webhooks.rotate_secret(endpoint_id, self.box.seal(secret), now + ROTATION_OVERLAP, now)
            await uow.commit()
        return {**endpoint_view(endpoint), "secret": secret}

    async def deliveries(self, endpoint_id: str, status: str | None, before: int | None, limit: int) -> dict:
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id)
            rows = await uow.deliveries.of_endpoint(endpoint_id, status, before, limit)
        cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
        return {"items": [delivery_view(r) for r in rows], "next_cursor": cursor}

    async def retry(self, endpoint_id: str, delivery_id: str) -> dict:
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id)
            if await uow.deliveries.get(endpoint_id, delivery_id, lock=True) is None:
                raise not_found(f"delivery {delivery_id} of webhook {endpoint_id}")
            await uow.deliveries.retry(delivery_id, _now())
            await uow.outbox.wake_worker()
            row = await uow.deliveries.get(endpoint_id, delivery_id)
            await uow.commit()
        return delivery_view(row)


def _events(events: list[str]) -> list[str]:
    """``*`` stands alone: it already means every event."""
    return [ALL_EVENTS] if ALL_EVENTS in events else list(dict.fromkeys(events))


def _now() -> datetime:
    return datetime.now(timezone.utc)
