"""Where a sign-in comes from: adaptive MFA's signals from the sources the contract lists, most
trusted first — what the embedding backend asserts (``context``), a trusted proxy's headers
(``MFA_FLOW_GEO_HEADERS``), the local GeoIP database (``MFA_FLOW_GEOIP_DB``). No network look-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.adaptive import Signals
from ..geoip import GeoIpDatabase
from ..settings import Settings


class SignalSources:
    def __init__(self, settings: Settings) -> None:
        self.headers = settings.geo_headers
        self.geoip = GeoIpDatabase(settings.geoip_db) if settings.geoip_db is not None else None

    def located(self, address: str | None) -> Signals:
        return self.geoip.lookup(address) if self.geoip is not None else Signals()

    def of_request(self, address: str, headers: Mapping[str, str], from_trusted_proxy: bool) -> Signals:
        """A client's request: its address (for the networks of ``untrusted_ip``), the headers
        named by ``MFA_FLOW_GEO_HEADERS`` when the peer is a trusted proxy (never otherwise: a
        client could write them), then what the GeoIP database says of the address."""
        proxy = Signals()
        if from_trusted_proxy and self.headers:
            proxy = Signals.parsed({name: headers.get(header) for name, header in self.headers})
        return Signals.parsed({"ip": address}).merge(proxy).merge(self.located(address))

    def asserted(self, context: Mapping[str, Any]) -> Signals:
        """The embedding backend's ``context`` (refused, naming the field, when a value does not
        hold), completed by the GeoIP database for its ``ip``."""
        signals = Signals.asserted(context)
        return signals.merge(self.located(signals.ip))

    def close(self) -> None:
        if self.geoip is not None:
            self.geoip.close()
