"""Adaptive MFA: whether a user who has a factor must verify it at this sign-in. Pure: no I/O.

With adaptive on (``MfaConfig.adaptive``), a user with a factor verifies only when a risk
rule fires on this sign-in's signals and the user's sign-in history (contract, "Adaptive
MFA"); ``evaluate`` is the one place that decides. What it returns goes into the flow's first
transition (``Assessment.to_json``): the rules evaluated, those that fired with their numbers,
those whose signal was missing, and never an address, a city or coordinates, since the log
is append-only and outlives the user's erasure.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from .errors import DomainFault

NEW_COUNTRY = "new_country"
GEO_VELOCITY = "geo_velocity"
LONG_INACTIVITY = "long_inactivity"
UNTRUSTED_IP = "untrusted_ip"
NEW_DEVICE = "new_device"
FAILURE_BURST = "failure_burst"

# Each rule's thresholds: name -> (lowest, highest, default). Rule order is the order the
# log and the console list them in.
THRESHOLDS: dict[str, dict[str, tuple[int, int, int]]] = {
    NEW_COUNTRY: {"window_days": (1, 3650, 180)},
    GEO_VELOCITY: {"max_kmh": (1, 100_000, 900)},
    LONG_INACTIVITY: {"days": (1, 3650, 30)},
    UNTRUSTED_IP: {"min_bot_score": (0, 100, 30)},
    NEW_DEVICE: {},
    FAILURE_BURST: {"failures": (1, 1000, 5), "minutes": (1, 10_080, 15)},
}
RULES = tuple(THRESHOLDS)
MAX_NETWORKS = 100

# What each rule means, with its default threshold (the README, the console and /docs say the same).
EXPLAINED = {
    NEW_COUNTRY: "fires when the sign-in comes from a country not seen in the user's successful sign-ins"
                 " within window_days (180 days)",
    GEO_VELOCITY: "fires when reaching this sign-in's position from the last successful sign-in's position"
                  " needs a great-circle speed above max_kmh (900 km/h)",
    LONG_INACTIVITY: "fires when the user has not signed in successfully for days (30 days)",
    UNTRUSTED_IP: "fires when the bot score is below min_bot_score (30), or the address is inside one of"
                  " networks (CIDRs, none by default)",
    NEW_DEVICE: "fires when the browser's device_id was not seen in a successful sign-in of the user",
    FAILURE_BURST: "fires when failures (5) or more first factors or proofs of the user failed within"
                   " minutes (15 minutes)",
}


class AdaptiveError(DomainFault, ValueError):
    """A setting out of range; ``field`` names it (``adaptive.rules.geo_velocity.max_kmh``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field=field)
        self.field: str = field


@dataclass(frozen=True)
class RuleSetting:
    name: str
    enabled: bool = True
    thresholds: tuple[tuple[str, int], ...] = ()
    networks: tuple[str, ...] = ()  # untrusted_ip only: CIDRs in their canonical form

    def __getitem__(self, key: str) -> int:
        return dict(self.thresholds)[key]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled, **dict(self.thresholds)}
        if self.name == UNTRUSTED_IP:
            out["networks"] = list(self.networks)
        return out


def _default_rule(name: str) -> RuleSetting:
    return RuleSetting(name, True, tuple((k, v[2]) for k, v in THRESHOLDS[name].items()))


@dataclass(frozen=True)
class AdaptiveConfig:
    """The ``adaptive`` part of the MFA configuration: on or off, and each rule's setting."""

    enabled: bool = False
    rules: tuple[RuleSetting, ...] = field(default_factory=lambda: tuple(_default_rule(n) for n in RULES))

    def rule(self, name: str) -> RuleSetting:
        return next(r for r in self.rules if r.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "rules": {r.name: r.to_json() for r in self.rules}}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> "AdaptiveConfig":
        """From the API's (or the stored) JSON; what it leaves out takes its default. Raises
        ``AdaptiveError`` naming the field for a value out of range."""
        value = value or {}
        rules_in = value.get("rules") or {}
        unknown = [name for name in rules_in if name not in THRESHOLDS]
        if unknown:
            raise AdaptiveError(f"unknown adaptive rule {unknown[0]!r}; the rules are {', '.join(RULES)}",
                                f"adaptive.rules.{unknown[0]}")
        rules = []
        for name in RULES:
            given = rules_in.get(name) or {}
            thresholds = []
            for key, (low, high, default) in THRESHOLDS[name].items():
                number = given.get(key, default)
                if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
                    raise AdaptiveError(f"adaptive.rules.{name}.{key} must be a whole number from {low} to {high}",
                                        f"adaptive.rules.{name}.{key}")
                thresholds.append((key, number))
            networks: tuple[str, ...] = ()
            if name == UNTRUSTED_IP:
                networks = _networks(given.get("networks") or [])
            rules.append(RuleSetting(name, bool(given.get("enabled", True)), tuple(thresholds), networks))
        return cls(bool(value.get("enabled", False)), tuple(rules))


def _networks(values: Iterable[Any]) -> tuple[str, ...]:
    where = "adaptive.rules.untrusted_ip.networks"
    values = list(values)
    if len(values) > MAX_NETWORKS:
        raise AdaptiveError(f"{where} holds at most {MAX_NETWORKS} networks", where)
    out = []
    for i, text in enumerate(values):
        try:
            out.append(str(ipaddress.ip_network(str(text), strict=False)))
        except ValueError:
            raise AdaptiveError(f"{where}[{i}] is not a network such as 203.0.113.0/24 or 2001:db8::/32",
                                f"{where}[{i}]") from None
    return tuple(out)


# --- signals, history, evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """What is known of this sign-in: merged from the sources, most trusted first
    (``merge``). ``ip`` is used for the network check only and never stored."""

    ip: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    device_id: str | None = None
    bot_score: int | None = None

    @property
    def position(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)

    @classmethod
    def parsed(cls, raw: Mapping[str, Any]) -> "Signals":
        """From untrusted text (headers, a database record, a JSON body): what does not parse
        is left unknown rather than refused, as a proxy may send ``XX`` or an empty header."""
        country = _text(raw.get("country"), 8)
        country = country.upper() if country and country.isalpha() and len(country) == 2 else None
        if country in ("XX", "T1"):  # Cloudflare's unknown and Tor
            country = None
        lat, lon = _number(raw.get("latitude")), _number(raw.get("longitude"))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
        score = _number(raw.get("bot_score"))
        ip = _text(raw.get("ip"), 64)
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                ip = None
        return cls(ip=ip, country=country, region=_text(raw.get("region"), 64), city=_text(raw.get("city"), 128),
                   latitude=lat, longitude=lon, device_id=_text(raw.get("device_id"), 256),
                   bot_score=int(score) if score is not None and 0 <= score <= 100 else None)

    def merge(self, less_trusted: "Signals") -> "Signals":
        """Each field from this source when known here, else from the less trusted one (a
        position is taken whole, never a latitude of one source with another's longitude)."""
        position = self.position or less_trusted.position
        return Signals(
            ip=self.ip or less_trusted.ip,
            country=self.country or less_trusted.country,
            region=self.region or less_trusted.region,
            city=self.city or less_trusted.city,
            latitude=position[0] if position else None,
            longitude=position[1] if position else None,
            device_id=self.device_id or less_trusted.device_id,
            bot_score=self.bot_score if self.bot_score is not None else less_trusted.bot_score,
        )


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def device_digest(device_id: str) -> str:
    """How a device id is kept in the history: a digest, not the browser's own value."""
    return hashlib.sha256(device_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SignIn:
    """One successful sign-in of the user's history."""

    at: datetime
    country: str | None = None
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    device: str | None = None  # ``device_digest`` of the device id

    @property
    def position(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)


@dataclass(frozen=True)
class History:
    """What the rules read of the user: sign-ins newest first, the last successful sign-in's
    time (kept on the user, so it outlives the history's retention), recent failures."""

    sign_ins: tuple[SignIn, ...] = ()
    last_success: datetime | None = None
    recent_failures: int = 0  # failed first factors and proofs within failure_burst.minutes


@dataclass(frozen=True)
class Assessment:
    evaluated: tuple[str, ...] = ()
    fired: tuple[dict[str, Any], ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def risky(self) -> bool:
        return bool(self.fired)

    @property
    def fired_rules(self) -> list[str]:
        return [f["rule"] for f in self.fired]

    def to_json(self) -> dict[str, Any]:
        return {"evaluated": list(self.evaluated), "fired": [dict(f) for f in self.fired],
                "missing": list(self.missing)}


EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The haversine distance between two (latitude, longitude) points, in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# Travel within this few minutes counts as taking at least this long (a position read twice in
# a second must not give an infinite speed).
MIN_TRAVEL_HOURS = 1 / 60


def evaluate(config: AdaptiveConfig, signals: Signals, history: History, now: datetime) -> Assessment:
    """Which enabled rules fire on this sign-in. A rule whose signal is missing does not fire
    and is named in ``missing``; the user's first successful sign-in fires nothing but
    ``new_device``."""
    first = history.last_success is None and not history.sign_ins
    evaluated: list[str] = []
    fired: list[dict[str, Any]] = []
    missing: list[str] = []
    for setting in config.rules:
        if not setting.enabled:
            continue
        evaluated.append(setting.name)
        outcome = _RULES[setting.name](setting, signals, history, now)
        if outcome is None:
            missing.append(setting.name)
        elif outcome and (not first or setting.name == NEW_DEVICE):
            fired.append({"rule": setting.name, **outcome})
    return Assessment(tuple(evaluated), tuple(fired), tuple(missing))


# Each rule: None when its signal is missing, {} when it does not fire, its numbers when it does.
Outcome = dict[str, Any] | None


def _new_country(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    if signals.country is None:
        return None
    window = setting["window_days"]
    seen = {s.country for s in history.sign_ins if s.country and (now - s.at).total_seconds() <= window * 86400}
    if signals.country in seen or (history.last_success is None and not history.sign_ins):
        return {}
    return {"days": window, "countries_seen": len(seen)}


def _geo_velocity(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    here = signals.position
    last = history.sign_ins[0] if history.sign_ins else None
    if here is None or last is None or last.position is None:
        return None
    distance = great_circle_km(last.position, here)
    hours = max((now - last.at).total_seconds() / 3600, MIN_TRAVEL_HOURS)
    speed = distance / hours
    if speed <= setting["max_kmh"]:
        return {}
    return {"speed_kmh": round(speed), "distance_km": round(distance), "hours": round(hours, 2)}


def _long_inactivity(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    last = history.last_success or (history.sign_ins[0].at if history.sign_ins else None)
    if last is None:
        return {}  # a first sign-in: nothing to have been inactive since
    days = (now - last).total_seconds() / 86400
    if days <= setting["days"]:
        return {}
    return {"days": int(days)}


def _untrusted_ip(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    checked = False
    if signals.bot_score is not None:
        checked = True
        if signals.bot_score < setting["min_bot_score"]:
            return {"score": signals.bot_score, "min_score": setting["min_bot_score"]}
    if setting.networks and signals.ip is not None:
        checked = True
        address = ipaddress.ip_address(signals.ip)
        for index, network in enumerate(setting.networks):
            net = ipaddress.ip_network(network)
            if address.version == net.version and address in net:
                return {"network": index}  # which configured network, by its place: never the address
    return {} if checked else None


def _new_device(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    if signals.device_id is None:
        return None
    seen = {s.device for s in history.sign_ins if s.device}
    if device_digest(signals.device_id) in seen:
        return {}
    return {"devices_seen": len(seen)}


def _failure_burst(setting: RuleSetting, signals: Signals, history: History, now: datetime) -> Outcome:
    if history.recent_failures < setting["failures"]:
        return {}
    return {"failures": history.recent_failures, "minutes": setting["minutes"]}


_RULES = {
    NEW_COUNTRY: _new_country,
    GEO_VELOCITY: _geo_velocity,
    LONG_INACTIVITY: _long_inactivity,
    UNTRUSTED_IP: _untrusted_ip,
    NEW_DEVICE: _new_device,
    FAILURE_BURST: _failure_burst,
}
