"""A local MaxMind-format (``.mmdb``) city database: where an address is, read from a file
(``MFA_FLOW_GEOIP_DB``) with MaxMind's own reader; no network look-up is ever made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import maxminddb

from .domain.adaptive import Signals


class GeoIpDatabase:
    def __init__(self, path: Path) -> None:
        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise SystemExit(f"MFA_FLOW_GEOIP_DB: {path} is not a readable MaxMind-format database ({exc})") from None

    def lookup(self, address: str | None) -> Signals:
        """What the database says of ``address``: country, first subdivision, city (its English
        name), position; nothing for an address it does not hold or that is no address."""
        if not address:
            return Signals()
        try:
            record: Any = self.reader.get(address)
        except ValueError:  # not an IP address, or an IPv6 one in an IPv4 database
            return Signals()
        if not isinstance(record, dict):
            return Signals()
        subdivisions = record.get("subdivisions") or [{}]
        location = record.get("location") or {}
        return Signals.parsed({
            "country": (record.get("country") or {}).get("iso_code"),
            "region": subdivisions[0].get("iso_code") if isinstance(subdivisions[0], dict) else None,
            "city": ((record.get("city") or {}).get("names") or {}).get("en"),
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
        })

    def close(self) -> None:
        self.reader.close()
